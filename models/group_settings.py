"""A group's settings that its admins change after creating it: how long it keeps closed items
(`models.retention`) and its country (the default region of the phone numbers it checks)."""

from babel import Locale

from models.actors import ActorType, LocalActor

MAX_RETENTION_DAYS = 3650
# CLDR's two-letter territories that are no country: groupings, pseudo-locales, "unknown".
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
COUNTRIES = frozenset(
    code
    for code in map(str, Locale("en").territories)
    if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)


def retention_days(value: int | str) -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ValueError(f"retention is a number of days, not {value!r}") from None
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise ValueError(f"retention is between 0 and {MAX_RETENTION_DAYS} days")
    return days


def region(value: str) -> str | None:
    """An ISO 3166 alpha-2 country code, upper-case; "" for none."""
    code = value.strip().upper()
    if not code:
        return None
    if code not in COUNTRIES:
        raise ValueError(f"{value!r} is not a two-letter country code (ISO 3166), like ES or MX")
    return code


def change(
    group: LocalActor, *, retention: int | str | None = None, country: str | None = None
) -> None:
    """Validates everything before changing anything."""
    if group.type != ActorType.GROUP:
        raise ValueError(f"{group.username!r} is not a group")
    days = None if retention is None else retention_days(retention)
    code = None if country is None else region(country)
    if days is not None:
        group.retention_days = days
    if country is not None:
        group.region = code


def describe(group: LocalActor) -> str:
    return (
        f"@{group.username}: retention {group.retention_days} days after closing; "
        f"region {group.region or 'none'}"
    )
