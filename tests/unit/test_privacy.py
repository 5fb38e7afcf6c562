"""Data minimisation: contact details and addresses are flagged; points are blurred to a grid."""

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.privacy import MIN_RADIUS_M, FindingKind, coarsen, findings

PHONE, EMAIL, ADDRESS = FindingKind.PHONE, FindingKind.EMAIL, FindingKind.STREET_ADDRESS


@pytest.mark.parametrize(
    ("text", "kind", "flagged"),
    [
        ("Call me on +34 600 123 456 please", PHONE, "+34 600 123 456"),
        ("ring 600 123 456.", PHONE, "600 123 456"),
        ("movil 600123456", PHONE, "600123456"),
        ("0034 600123456", PHONE, "0034 600123456"),
        ("(020) 7946 0958 after six", PHONE, "(020) 7946 0958"),
        ("+44 (0)20 7946 0958", PHONE, "+44 (0)20 7946 0958"),
        ("020-7946-0958", PHONE, "020-7946-0958"),
        ("555.123.4567", PHONE, "555.123.4567"),
        ("(555) 123-4567", PHONE, "(555) 123-4567"),
        ("+1-202-555-0143", PHONE, "+1-202-555-0143"),
        ("91 527 33 44", PHONE, "91 527 33 44"),
        (
            "write to ana.garcia+ayuda@correo.example.es!",
            EMAIL,
            "ana.garcia+ayuda@correo.example.es",
        ),
        ("Bring it to 12 Elm Street, flat 2", ADDRESS, "12 Elm Street"),
        ("123 Main St", ADDRESS, "123 Main St"),
        ("221B Baker Street", ADDRESS, "221B Baker Street"),
        ("at 4 Old Kent Road tonight", ADDRESS, "4 Old Kent Road"),
        ("Calle Mayor 5", ADDRESS, "Calle Mayor 5"),
        ("Av. de la Paz 123", ADDRESS, "Av. de la Paz 123"),
        ("vivo en calle de Alcalá, 45, 3º", ADDRESS, "calle de Alcalá, 45"),
        ("C/ Embajadores 12", ADDRESS, "C/ Embajadores 12"),
        ("Avenida Libertador nº 1500", ADDRESS, "Avenida Libertador nº 1500"),
        ("Plaza de la Constitución 3", ADDRESS, "Plaza de la Constitución 3"),
    ],
)
def test_contact_details_and_addresses_are_flagged(
    text: str, kind: FindingKind, flagged: str
) -> None:
    found = findings(text)

    assert [(f.kind, f.text) for f in found] == [(kind, flagged)]
    assert text[found[0].start : found[0].end] == flagged


@pytest.mark.parametrize(
    "text",
    [
        "Street party on Saturday",
        "We need 20 people at 10:00",
        "from 2020 to 2026",
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
        "size 3 nappies, 4 packs",
        "",
    ],
)
def test_ordinary_text_is_not_flagged(text: str) -> None:
    assert findings(text) == []


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
