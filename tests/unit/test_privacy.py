"""Data minimisation: contact details and addresses are flagged; points are blurred to a grid."""

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.privacy import MIN_RADIUS_M, FindingKind, coarsen, findings

PHONE, EMAIL, ADDRESS = FindingKind.PHONE, FindingKind.EMAIL, FindingKind.STREET_ADDRESS


# (text, the group's region or None, what is flagged). Numbers written without their country
# code are read in the group's region; with a + they are found whatever the region.
FLAGGED = [
    # Spain
    ("Call me on +34 600 123 456 please", None, PHONE, "+34 600 123 456"),
    ("ring 600 123 456.", "ES", PHONE, "600 123 456"),
    ("movil 600123456", "ES", PHONE, "600123456"),
    ("0034 600123456", "ES", PHONE, "0034 600123456"),
    ("91 527 33 44", "ES", PHONE, "91 527 33 44"),
    ("tel:+34600123456", None, PHONE, "+34600123456"),
    # Mexico
    ("+52 55 1234 5678", None, PHONE, "+52 55 1234 5678"),
    ("llámame al 55 1234 5678", "MX", PHONE, "55 1234 5678"),
    # Argentina
    ("+54 9 11 2345-6789", None, PHONE, "+54 9 11 2345-6789"),
    ("(011) 4567-8901 de noche", "AR", PHONE, "(011) 4567-8901"),
    # United States
    ("555.123.4567", "US", PHONE, "555.123.4567"),
    ("(555) 123-4567", "US", PHONE, "(555) 123-4567"),
    ("+1-202-555-0143", "ES", PHONE, "+1-202-555-0143"),
    # United Kingdom
    ("(020) 7946 0958 after six", "GB", PHONE, "(020) 7946 0958"),
    ("+44 (0)20 7946 0958", None, PHONE, "+44 (0)20 7946 0958"),
    ("020-7946-0958", "GB", PHONE, "020-7946-0958"),
    ("text 07700 900123", "GB", PHONE, "07700 900123"),
    # France, the Netherlands
    ("+33 1 23 45 67 89", "ES", PHONE, "+33 1 23 45 67 89"),
    ("01 23 45 67 89", "FR", PHONE, "01 23 45 67 89"),
    ("Ring 0612 345 678", "NL", PHONE, "0612 345 678"),
    # E-mails
    (
        "write to ana.garcia+ayuda@correo.example.es!",
        None,
        EMAIL,
        "ana.garcia+ayuda@correo.example.es",
    ),
    ("(rosa@example.org)", None, EMAIL, "rosa@example.org"),
    ("escribe a josé@correo.es.", None, EMAIL, "josé@correo.es"),
    # Street addresses, English word order
    ("Bring it to 12 Elm Street, flat 2", None, ADDRESS, "12 Elm Street"),
    ("123 Main St", None, ADDRESS, "123 Main St"),
    ("221B Baker Street", None, ADDRESS, "221B Baker Street"),
    ("at 4 Old Kent Road tonight", None, ADDRESS, "4 Old Kent Road"),
    # Spanish word order, and the number first
    ("Calle Luna 14", None, ADDRESS, "Calle Luna 14"),
    ("14 Calle Luna", None, ADDRESS, "14 Calle Luna"),
    ("Calle Mayor 5", None, ADDRESS, "Calle Mayor 5"),
    ("C/ Mayor 5", None, ADDRESS, "C/ Mayor 5"),
    ("Av. Siempre Viva 742", None, ADDRESS, "Av. Siempre Viva 742"),
    ("Avenida de la Constitución, 12", None, ADDRESS, "Avenida de la Constitución, 12"),
    ("Av. de la Paz 123", None, ADDRESS, "Av. de la Paz 123"),
    ("vivo en calle de Alcalá, 45, 3º", None, ADDRESS, "calle de Alcalá, 45"),
    ("C/ Embajadores 12", None, ADDRESS, "C/ Embajadores 12"),
    ("Avenida Libertador nº 1500", None, ADDRESS, "Avenida Libertador nº 1500"),
    ("Plaza de la Constitución 3", None, ADDRESS, "Plaza de la Constitución 3"),
]


@pytest.mark.parametrize(("text", "region", "kind", "flagged"), FLAGGED)
def test_contact_details_and_addresses_are_flagged(
    text: str, region: str | None, kind: FindingKind, flagged: str
) -> None:
    found = findings(text, region)

    assert [(f.kind, f.text) for f in found] == [(kind, flagged)]
    assert text[found[0].start : found[0].end] == flagged


def test_without_a_region_national_numbers_of_several_countries_are_still_found() -> None:
    for number in ("600 123 456", "0612 345 678", "(212) 555-0123", "07700 900123", "55 1234 5678"):
        assert [f.text for f in findings(f"ring {number} now")] == [number]
    assert [f.text for f in findings("ring +34 600 123 456")] == ["+34 600 123 456"]


LOOK_ALIKES = [
    "Street party on Saturday",
    "We need 20 people at 10:00",
    "since 2019",
    "from 2020 to 2026",
    "€25 for the bus",
    "25,50 € each",
    "2 boxes of 12",
    "10:00–13:00",
    "come at 9",
    "5/12/2026",
    "on 2026-12-05 at 10:00-13:00",
    "05/12/2026 or 5.12.2026",
    "28012 Madrid",
    "SW1A 1AA",
    "90210-1234",
    "1.000.000 euros raised",
    "€ 1 250 000",
    "3.14159265",
    "12 street lamps",
    "We need 20 boxes for the street",
    "Meet at Plaza Mayor 10:00",
    "Plaza de Lavapiés, Madrid",
    "message @lavapies@ayni.example",
    "size 4",
    "size 3 nappies, 4 packs",
    "",
]


@pytest.mark.parametrize("region", [None, "ES", "GB", "US", "MX", "AR", "FR"])
@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_ordinary_text_is_not_flagged(text: str, region: str | None) -> None:
    assert findings(text, region) == []


def test_every_finding_in_a_longer_text_is_reported_in_order() -> None:
    text = (
        "Ana (ana@correo.example) lives at Calle Mayor 5; phone +34 600 123 456. 20 people, 10:00."
    )

    assert [f.kind for f in findings(text)] == [EMAIL, ADDRESS, PHONE]


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_findings_never_fail_and_spans_match_the_text(text: str) -> None:
    for finding in findings(text):
        assert text[finding.start : finding.end] == finding.text


def test_long_digit_runs_neither_hang_nor_count_as_contact_details() -> None:
    # Run apart, with a bound far above the 0.1 s it takes: a pattern that backtracks
    # catastrophically would take hours here, and a hang must fail, not stall the suite.
    script = (
        "from federation.privacy import findings\n"
        "text = ('1 ' * 20_000) + ('9' * 20_000) + (' (1)' * 5_000) + ' call +34 600 123 456'\n"
        "print([(f.kind.value, f.text) for f in findings(text)])\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.strip() == "[('phone', '+34 600 123 456')]"


# --- coarsen ---


def test_a_point_lands_on_a_grid_no_finer_than_500_m() -> None:
    assert coarsen(40.408772, -3.700837) == (40.41, -3.7)


@pytest.mark.parametrize("radius", [0, 100, 499])
def test_no_radius_makes_the_grid_finer_than_500_m(radius: float) -> None:
    assert coarsen(40.408772, -3.700837, radius) == coarsen(40.408772, -3.700837, MIN_RADIUS_M)


def test_a_larger_radius_gives_a_coarser_grid() -> None:
    assert coarsen(40.408772, -3.700837, 5000) == (40.4, -3.7)
    assert coarsen(40.408772, -3.700837, 50_000) == (40.5, -4.0)  # 1° of longitude is ~85 km there


@settings(max_examples=500)
@given(
    st.floats(min_value=-89.0, max_value=89.0),
    st.floats(min_value=-180.0, max_value=180.0),
    st.floats(min_value=0, max_value=100_000),
)
def test_coarsening_moves_points_by_at_most_a_cell_and_is_stable(
    lat: float, lon: float, radius: float
) -> None:
    coarse_lat, coarse_lon = coarsen(lat, lon, radius)
    cell_m = max(radius, MIN_RADIUS_M)

    assert coarsen(coarse_lat, coarse_lon, radius) == (coarse_lat, coarse_lon)
    # A grid step is at most 2.5x the radius (2 -> 5, 20 -> 45), so a point moves at most ~1.3 of
    # them.
    assert abs(coarse_lat - lat) * 111_320 <= 2.5 * cell_m
    east_west = (
        abs(((coarse_lon - lon + 180) % 360) - 180) * 111_320 * math.cos(math.radians(coarse_lat))
    )
    assert east_west <= 2.5 * cell_m + 1


@settings(max_examples=300)
@given(st.floats(min_value=-90.0, max_value=90.0), st.floats(min_value=-180.0, max_value=180.0))
def test_only_grid_points_come_out(lat: float, lon: float) -> None:
    coarse = coarsen(lat, lon)
    lat_step = 0.005

    assert round(coarse[0] / lat_step, 6).is_integer() or abs(coarse[0]) == 90.0
    assert len(repr(coarse[0]).split(".")[-1]) <= 3


def test_the_poles_and_the_date_line_stay_in_range() -> None:
    assert coarsen(89.9999, 179.9999) == (90.0, 0.0)
    lat, lon = coarsen(-12.0, -179.9999)
    assert -180.0 <= lon < 180.0 and lat == -12.0


@pytest.mark.parametrize(
    ("lat", "lon", "radius"),
    [
        (math.nan, 0.0, 500),
        (0.0, math.inf, 500),
        (91.0, 0.0, 500),
        (0.0, 0.0, math.nan),
    ],
)
def test_impossible_points_are_refused(lat: float, lon: float, radius: float) -> None:
    with pytest.raises(ValueError):
        coarsen(lat, lon, radius)
