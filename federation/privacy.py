"""Data minimisation: what a member should look at twice before an item leaves the instance.

`findings` flags text that looks like a phone number, an e-mail or a street address, so the
publishing step can ask for explicit confirmation; it prefers a spurious question to a leaked
number. Phones are found by `phonenumbers` at its "possible" leniency (a number out of service
today is still one somebody could be called on), e-mails by `email-validator`, street addresses
by the compact English and Spanish patterns below. `coarsen` rounds a point to a grid so exact
coordinates never leave.

A postcode alone ("28012 Madrid") is not flagged: it names an area of thousands of people, no
finer than the coarse place an item shows anyway.
"""

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

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


# Dates and clock times are digits with separators too; they are masked before looking for
# phones, as are the spans already taken by e-mails and addresses.
_DATE = re.compile(
    r"(?<!\d)(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?!\d)"
)
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?:\s?[-–]\s?\d{1,2}(?::\d{2})?)?(?!\d)")
# "Possible" is generous with short national numbers (a year is a possible British one): a
# number somebody could be rung on has at least seven digits.
_MIN_PHONE_DIGITS = 7
_ZIP_PLUS_FOUR = re.compile(r"\d{5}-\d{4}")
_DECIMAL = re.compile(r"\d+[.,]\d+")
_QUANTITY_AFTER = re.compile(
    r"\s*(?:%|€|\$|£|(?i:people|persons?|personas?|euros?|eur|dollars?|pounds?|kg|kilos?|g|l|"
    r"litres?|liters?|units?|items?|boxes|cajas|unidades|m|km|meters?|metres?|metros)\b)"
)
_CURRENCY_BEFORE = re.compile(r"[€$£]\s*$")
_NUMBER_BEFORE = re.compile(r"\d[.,]$")
_NUMBER_AFTER = re.compile(r"[.,]\d")

# A group that has not said its country: a national number is read as each of these countries'
# would write it ("ZZ" finds those with a country code), so "612 345 678" is still asked about.
_UNKNOWN_REGION = ("ZZ", "ES", "MX", "AR", "CO", "CL", "PE", "US", "GB", "FR", "DE", "IT", "BR")

# Anything with an @ inside and no spaces or brackets: email-validator says which are addresses.
_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\]{},;:\"'`@]+@[^\s<>()\[\]{},;:\"'`@]+")

_NAME_WORD = r"[A-ZÁÉÍÓÚÑÜ][\w'’.\-]*"
_EN_STREET = (
    r"(?i:street|st|road|rd|avenue|ave|av|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    r"terrace|close|crescent|square|sq|highway|hwy|row|parade)"
)
_ES_STREET = (
    r"(?i:calle|c/|avenida|avda\.?|av\.?|plaza|pza\.?|paseo|p[º°]|camino|carrera|cra\.?|ronda|"
    r"travesía|travesia|callejón|callejon|glorieta|pasaje|jirón|jiron|jr\.|rúa|rua|"
    r"carretera|ctra\.?)"
)
_ES_LINK = r"(?:(?i:de|del|la|las|los|el|y)\s+)*"
_HOUSE_NUMBER = r"\d{1,5}[A-Za-z]?"
# "221B Baker Street": a number, one to four capitalised words, the kind of street.
_EN_ADDRESS = re.compile(
    rf"(?<![\w.,]){_HOUSE_NUMBER},?\s+(?:{_NAME_WORD}\s+){{1,4}}{_EN_STREET}\b\.?"
)
# "Calle Luna 14", "Avenida de la Constitución, 12", "C/ Mayor 5", "Av. Siempre Viva 742".
_ES_NAME = rf"{_ES_LINK}{_NAME_WORD}(?:\s+{_ES_LINK}{_NAME_WORD}){{0,4}}"
_ES_ADDRESS = re.compile(
    rf"(?<!\w){_ES_STREET}\s*{_ES_NAME}"
    rf",?\s*(?:(?i:n[º°o]|núm|num)\.?\s*)?\d{{1,5}}(?!\d)(?!\s*(?i:people|personas|h\b|:))"
)
# "14 Calle Luna": the number first, as English speakers and some Latin American cities write it.
_ES_ADDRESS_NUMBER_FIRST = re.compile(rf"(?<![\w.,]){_HOUSE_NUMBER},?\s+{_ES_STREET}\s*{_ES_NAME}")
_ADDRESSES = (_EN_ADDRESS, _ES_ADDRESS, _ES_ADDRESS_NUMBER_FIRST)


def findings(text: str, region: str | None = None) -> list[Finding]:
    """Spans of `text` that look like a phone number, an e-mail or a street address, in order.

    `region` (ISO 3166 alpha-2, the group's country) is how numbers without a country code are
    read; without it, as any of a few countries would write them (a spurious question is better
    than a leaked number)."""
    if not isinstance(text, str) or not text:
        return []
    emails = _emails(text)
    addresses = [
        Finding(FindingKind.STREET_ADDRESS, m.start(), m.end(), m[0])
        for pattern in _ADDRESSES
        for m in pattern.finditer(text)
    ]
    taken = _without_overlaps(emails + addresses)
    phones = [p for p in _phones(text, region) if not _overlaps(p.start, p.end, taken)]
    return sorted(taken + phones, key=lambda f: (f.start, f.end))


def _emails(text: str) -> list[Finding]:
    found = []
    for match in _EMAIL_CANDIDATE.finditer(text):
        candidate = match[0].rstrip(".!?")
        if match.start() > 0 and text[match.start() - 1] == "@":
            continue  # a fediverse handle, @name@server: public, and meant to be shared
        try:
            validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        found.append(
            Finding(FindingKind.EMAIL, match.start(), match.start() + len(candidate), candidate)
        )
    return found


def _phones(text: str, region: str | None) -> list[Finding]:
    masked = _mask(text)
    if not any(c.isdigit() for c in masked):
        return []
    import phonenumbers  # on first use: its metadata is a megabyte an idle process need not hold

    found = []
    for each in [region.upper()] if region else _UNKNOWN_REGION:
        matcher = phonenumbers.PhoneNumberMatcher(
            masked, each, leniency=phonenumbers.Leniency.POSSIBLE
        )
        for match in matcher:
            start, end = match.start, match.end
            if _looks_like_phone(masked, start, end):
                found.append(Finding(FindingKind.PHONE, start, end, text[start:end]))
    return _without_overlaps(found)


def _mask(text: str) -> str:
    for pattern in (_DATE, _TIME):
        text = pattern.sub(lambda m: "~" * len(m[0]), text)
    return text


def _looks_like_phone(text: str, start: int, end: int) -> bool:
    candidate = text[start:end]
    if sum(c.isdigit() for c in candidate) < _MIN_PHONE_DIGITS:
        return False
    if _ZIP_PLUS_FOUR.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
        return False
    if _NUMBER_BEFORE.search(text, 0, start) or _NUMBER_AFTER.match(text, end):
        return False  # part of a longer number: 3.14159265, an amount
    quantity = _QUANTITY_AFTER.match(text, end)
    return not (quantity or _CURRENCY_BEFORE.search(text, 0, start))


def _overlaps(start: int, end: int, others: list[Finding]) -> bool:
    return any(start < f.end and f.start < end for f in others)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """The longest of overlapping findings (an address may match in both word orders)."""
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if not _overlaps(finding.start, finding.end, kept):
            kept.append(finding)
    return kept


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
