"""Coarse places: a name people recognise and, at most, a point blurred to a 500 m+ grid.

A street address or an exact point never goes out: `to_ap` re-coarsens whatever it is given, and
`from_ap` coarsens what others send before anyone stores it.
"""

import math
from dataclasses import dataclass
from typing import Any

from federation.privacy import MIN_RADIUS_M, coarsen
from federation.vocab import first, has_type

__all__ = [
    "Area",
    "Place",
    "area",
    "area_from_ap",
    "area_to_ap",
    "distance_km",
    "place_from_ap",
    "place_to_ap",
]

_MAX_NAME = 200
_MAX_RADIUS_M = 20_000_000  # half the Earth's circumference: anything larger says nothing
# AS2 `units` for Place.radius; "m" is the default.
_METRES_PER_UNIT = {
    "m": 1.0,
    "km": 1000.0,
    "cm": 0.01,
    "feet": 0.3048,
    "inches": 0.0254,
    "miles": 1609.344,
}


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    latitude: float | None = None
    longitude: float | None = None
    radius_m: int = MIN_RADIUS_M

    def __post_init__(self) -> None:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("a place has both latitude and longitude, or neither")
        if self.radius_m < MIN_RADIUS_M:
            raise ValueError(f"a place's radius is at least {MIN_RADIUS_M} m")
        if self.latitude is not None and self.longitude is not None:
            coarsen(self.latitude, self.longitude, self.radius_m)  # validates the ranges

    @property
    def point(self) -> tuple[float, float] | None:
        """The coarsened point, the only one ever shown or sent."""
        if self.latitude is None or self.longitude is None:
            return None
        return coarsen(self.latitude, self.longitude, self.radius_m)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(h)))


def place_to_ap(place: Place) -> dict[str, Any]:
    document: dict[str, Any] = {"type": "Place", "name": place.name}
    point = place.point
    if point is not None:
        document["latitude"], document["longitude"] = point
    document["radius"] = place.radius_m
    document["units"] = "m"
    return document


def place_from_ap(value: object) -> Place | None:
    """The first usable Place in a `location`; coordinates coarsened, the radius at least 500 m."""
    for entry in (value if isinstance(value, list) else [value])[:8]:
        place = _one_place(entry)
        if place is not None:
            return place
    return None


def _one_place(entry: object) -> Place | None:
    if isinstance(entry, str):
        name = _text(entry)
        return Place(name) if name and "://" not in name else None
    if not isinstance(entry, dict):
        return None
    if entry.get("type") is not None and not has_type(entry, "Place"):
        return None
    # Mobilizon names a place in `name`; without one, the town of its PostalAddress (never the
    # street) is the coarse name. A street address as a string (Gancio) stays unread.
    name = _text(first(entry.get("name"))) or _locality(entry.get("address")) or ""
    radius = _radius_m(entry.get("radius"), entry.get("units"))
    lat, lon = _number(entry.get("latitude")), _number(entry.get("longitude"))
    if lat is not None and lon is not None and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
        coarse = coarsen(lat, lon, radius)
        return Place(name, coarse[0], coarse[1], radius)
    return Place(name, radius_m=radius) if name else None


def _locality(address: object) -> str | None:
    return _text(address.get("addressLocality")) if isinstance(address, dict) else None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())[:_MAX_NAME]
    return text or None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()[:40])
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    return None


def _radius_m(radius: object, units: object) -> int:
    number = _number(first(radius))
    factor = _METRES_PER_UNIT.get(units if isinstance(units, str) else "m", 1.0)
    if number is None or number <= 0:
        return MIN_RADIUS_M
    return int(max(MIN_RADIUS_M, min(number * factor, _MAX_RADIUS_M)))


@dataclass(frozen=True, slots=True)
class Area:
    """A group's coarse service area: a centre on the same grid as an item's place, a radius."""

    latitude: float
    longitude: float
    radius_km: float

    def __post_init__(self) -> None:
        if not 0 < self.radius_km <= _MAX_RADIUS_M / 1000:
            raise ValueError(
                f"an area's radius is more than 0 and at most {_MAX_RADIUS_M // 1000} km"
            )
        coarsen(self.latitude, self.longitude)  # validates the ranges

    def covers(self, point: tuple[float, float] | None) -> bool:
        """Whether a (coarse) point is inside; an item with no point is not known to be."""
        if point is None:
            return False
        return distance_km((self.latitude, self.longitude), point) <= self.radius_km


def area(latitude: float, longitude: float, radius_km: float) -> Area:
    """The area as it is stored and published: its centre coarsened like an item's place."""
    lat, lon = coarsen(latitude, longitude)
    return Area(lat, lon, round(float(radius_km), 1))


def area_to_ap(value: Area) -> dict[str, Any]:
    """AS2's own `Place` with `radius` and `units`, as a Group's `location` (Mobilizon's term)."""
    return {
        "type": "Place",
        "latitude": value.latitude,
        "longitude": value.longitude,
        "radius": value.radius_km,
        "units": "km",
    }


def area_from_ap(value: object) -> Area | None:
    """The first Place in a `location` with a point and a radius; a place without a radius (a
    Mobilizon group's address) is no service area."""
    for entry in (value if isinstance(value, list) else [value])[:8]:
        if not isinstance(entry, dict) or not has_type(entry, "Place"):
            continue
        lat, lon = _number(entry.get("latitude")), _number(entry.get("longitude"))
        if _number(first(entry.get("radius"))) is None or lat is None or lon is None:
            continue
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            continue
        return area(lat, lon, _radius_m(entry.get("radius"), entry.get("units")) / 1000)
    return None
