"""Times as people read them: "3 hours ago" in the page's language, with the exact local time
(in the member's time zone, named) for the `title` and the `datetime` attribute for machines."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta


@dataclass(frozen=True)
class Shown:
    iso: str  # for <time datetime>
    relative: str  # "3 hours ago", "hace 3 horas"
    local: str  # "6 Dec 2026, 12:30 (Europe/Madrid)"


def shown(at: datetime, now: datetime, zone: ZoneInfo, language: str) -> Shown:
    ago = format_timedelta(at - now, add_direction=True, threshold=0.9, locale=language)
    local = format_datetime(at, "d MMM y, HH:mm", tzinfo=zone, locale=language)
    return Shown(at.isoformat(timespec="seconds"), ago, f"{local} ({zone.key})")
