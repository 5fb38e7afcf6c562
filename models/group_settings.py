"""A group's settings that its admins change after creating it: how long it keeps closed items
(`models.retention`), its country (the default region of the phone numbers it checks) and its
coarse service area (published on its actor; allies pass on only what falls inside theirs)."""

from functools import cache

from babel import Locale

from federation.places import Area, area
from models.actors import ActorType, LocalActor

MAX_RETENTION_DAYS = 3650
# CLDR's two-letter territories that are no country: groupings, pseudo-locales, "unknown".
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


@cache
def countries() -> frozenset[str]:
    # Read when a region is first checked, not at import: CLDR's English names for them are
    # 5 MB that a process which never changes a group's settings need not hold.
    return frozenset(
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
    if code not in countries():
        raise ValueError(f"{value!r} is not a two-letter country code (ISO 3166), like ES or MX")
    return code


def service_area(centre: str, radius_km: str | float) -> Area | None:
    """`LAT,LON` and a radius in km; an empty centre means no area."""
    if not centre.strip():
        return None
    try:
        lat, lon = (float(part) for part in centre.split(","))
        radius = float(radius_km)
        return area(lat, lon, radius)
    except ValueError:
        raise ValueError(
            f"an area is LAT,LON (like 40.42,-3.70) with a radius in km over 0, not {centre!r}"
        ) from None


def area_of(actor: LocalActor) -> Area | None:
    if actor.area_latitude is None or actor.area_longitude is None or not actor.area_radius_km:
        return None
    return Area(actor.area_latitude, actor.area_longitude, actor.area_radius_km)


def change(
    group: LocalActor,
    *,
    retention: int | str | None = None,
    country: str | None = None,
    service: tuple[str, str | float] | None = None,
) -> None:
    """Validates everything before changing anything. `service`: (centre, radius in km)."""
    if group.type != ActorType.GROUP:
        raise ValueError(f"{group.username!r} is not a group")
    days = None if retention is None else retention_days(retention)
    code = None if country is None else region(country)
    found = None if service is None else service_area(*service)
    if days is not None:
        group.retention_days = days
    if country is not None:
        group.region = code
    if service is not None:
        group.area_latitude = found.latitude if found else None
        group.area_longitude = found.longitude if found else None
        group.area_radius_km = found.radius_km if found else None


def describe(group: LocalActor) -> str:
    found = area_of(group)
    where = (
        f"; area {found.latitude},{found.longitude} within {found.radius_km:g} km" if found else ""
    )
    return (
        f"@{group.username}: retention {group.retention_days} days after closing; "
        f"region {group.region or 'none'}{where}"
    )
