"""Data minimisation: what a member should look at twice before an item leaves the instance.

`findings` flags text that looks like a phone number, an e-mail address or a street address, so
the publishing step can ask for explicit confirmation; it is a heuristic that prefers a spurious
question to a leaked number. `coarsen` rounds a point to a grid so exact coordinates never leave.
"""

import math
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MIN_RADIUS_M", "Finding", "FindingKind", "coarsen", "findings"]

MIN_RADIUS_M = 500
_METRES_PER_DEGREE = 111_320.0
# Grid steps in degrees: 1-2-5 per decade up to 5°, then divisors of 360° so that cells meet evenly
# at the date line. Coarse values print short and coarsen again to themselves.
_STEPS = [m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5)] + [
    10.0,
    20.0,
    30.0,
    45.0,
    60.0,
    90.0,
    180.0,
    360.0,
]


class FindingKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    STREET_ADDRESS = "street_address"


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    start: int
    end: int
    text: str


# Dates and clock times are digits with separators too; they are masked before looking for phones.
_DATE = re.compile(
    r"(?<!\d)(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?!\d)"
)
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?:\s?[-–]\s?\d{1,2}(?::\d{2})?)?(?!\d)")
_PHONE = re.compile(
    r"(?<![\w+/.,\-])\+?(?:\(\d{1,5}\)[ .\-]?)?\d++(?:(?:[ .\-]|[ ]?\(\d{1,5}\)[ ]?)\d++)*+"
    r"(?![\w/]|[.,\-]\d)"
)
_ZIP_PLUS_FOUR = re.compile(r"\d{5}-\d{4}")
_DECIMAL = re.compile(r"\d+[.,]\d+")
_QUANTITY_AFTER = re.compile(
    r"\s*(?:%|€|\$|£|(?i:people|persons?|personas?|euros?|eur|dollars?|pounds?|kg|kilos?|g|l|"
    r"litres?|liters?|units?|items?|boxes|cajas|unidades|m|km|meters?|metres?|metros)\b)"
)
_CURRENCY_BEFORE = re.compile(r"[€$£]\s*$")

_EMAIL = re.compile(
    r"(?<![\w@.+\-])[\w.+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}\b"
)

_NAME_WORD = r"[A-ZÁÉÍÓÚÑÜ][\w'’.\-]*"
_EN_STREET = (
    r"(?i:street|st|road|rd|avenue|ave|av|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    r"terrace|close|crescent|square|sq|highway|hwy|row|parade)"
)
_EN_ADDRESS = re.compile(
    rf"(?<![\w.,])\d{{1,5}}[A-Za-z]?,?\s+(?:{_NAME_WORD}\s+){{1,4}}{_EN_STREET}\b\.?"
)
_ES_STREET = (
    r"(?i:calle|c/|avenida|avda\.?|av\.?|plaza|pza\.?|paseo|p[º°]|camino|carrera|cra\.?|ronda|"
    r"travesía|travesia|callejón|callejon|glorieta|pasaje|jirón|jiron|jr\.|rúa|rua|"
    r"carretera|ctra\.?)"
)
_ES_LINK = r"(?:(?i:de|del|la|las|los|el|y)\s+)*"
_ES_ADDRESS = re.compile(
    rf"(?<!\w){_ES_STREET}\s*{_ES_LINK}{_NAME_WORD}(?:\s+{_ES_LINK}{_NAME_WORD}){{0,4}}"
    rf",?\s*(?:(?i:n[º°o]|núm|num)\.?\s*)?\d{{1,5}}(?!\d)(?!\s*(?i:people|personas|h\b|:))"
)


def findings(text: str) -> list[Finding]:
    """Spans of `text` that look like a phone number, an e-mail or a street address, in order."""
    if not isinstance(text, str) or not text:
        return []
    masked = _mask(text)
    emails = [_finding(FindingKind.EMAIL, m, text) for m in _EMAIL.finditer(masked)]
    addresses = [
        _finding(FindingKind.STREET_ADDRESS, m, text)
        for pattern in (_EN_ADDRESS, _ES_ADDRESS)
        for m in pattern.finditer(masked)
    ]
    taken = emails + addresses
    phones = [
        _finding(FindingKind.PHONE, m, text)
        for m in _PHONE.finditer(masked)
        if _looks_like_phone(m, masked) and not _overlaps(m.start(), m.end(), taken)
    ]
    return sorted(taken + phones, key=lambda f: (f.start, f.end))


def _mask(text: str) -> str:
    for pattern in (_DATE, _TIME):
        text = pattern.sub(lambda m: "~" * len(m[0]), text)
    return text


def _finding(kind: FindingKind, match: re.Match[str], text: str) -> Finding:
    return Finding(kind, match.start(), match.end(), text[match.start() : match.end()])


def _overlaps(start: int, end: int, others: list[Finding]) -> bool:
    return any(start < f.end and f.start < end for f in others)


def _looks_like_phone(match: re.Match[str], text: str) -> bool:
    candidate = match[0]
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15:
        return False
    if _ZIP_PLUS_FOUR.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
        return False
    quantity = _QUANTITY_AFTER.match(text, match.end())
    return not (quantity or _CURRENCY_BEFORE.search(text, 0, match.start()))


def coarsen(lat: float, lon: float, radius_m: float = MIN_RADIUS_M) -> tuple[float, float]:
    """Round a point to a grid whose cells are at least `radius_m` (and never under 500 m) wide.

    The latitude step is the smallest 1-2-5 step of at least that many metres; the longitude step
    is chosen the same way at the coarsened latitude, where degrees of longitude are shorter. The
    result is stable: coarsening a coarsened point gives it back.
    """
    if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(radius_m)):
        raise ValueError("coordinates and radius must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude out of range: {lat}")
    radius = max(float(radius_m), float(MIN_RADIUS_M))
    lat_step = _step(radius / _METRES_PER_DEGREE)
    coarse_lat = max(-90.0, min(90.0, _snap(lat, lat_step)))
    shrink = math.cos(math.radians(coarse_lat))
    lon_step = _step(radius / (_METRES_PER_DEGREE * shrink)) if shrink > 1e-6 else 360.0
    lon = ((lon + 180.0) % 360.0) - 180.0
    coarse_lon = _snap(lon, lon_step)
    if coarse_lon >= 180.0:
        coarse_lon -= 360.0
    return coarse_lat, coarse_lon + 0.0


def _step(degrees: float) -> float:
    return next((s for s in _STEPS if s >= degrees), 360.0)


def _snap(value: float, step: float) -> float:
    decimals = max(0, -math.floor(math.log10(step)))
    return round(round(value / step) * step, decimals) + 0.0
