"""Real documents from Mastodon, Lemmy, Pleroma and Mitra go through parsing and the AS2 helpers.

The corpus lives outside the repository (../shared/interop-corpus); without it these tests skip.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.sanitize import html_to_text, sanitize_html
from federation.vocab import (
    addresses_public,
    attributed_to,
    audience_of,
    host_of,
    id_of,
    ids_of,
    parse_activity,
    types_of,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "interop-corpus"
FILES: list[Path | None] = [*sorted(CORPUS.rglob("*.json"))] if CORPUS.is_dir() else []
HTML_FIELDS = ("content", "summary", "name")


def _label(path: Path | None) -> str:
    return "no-corpus" if path is None else str(path.relative_to(CORPUS))


@pytest.fixture(params=FILES or [None], ids=_label)
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    path: Path | None = request.param
    if path is None:
        pytest.skip(f"interop corpus not found at {CORPUS}")
    return parse_activity(path.read_bytes())


def embedded(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document and every object embedded under `object` (Announce{Create{Note}} and the
    like)."""
    current: Any = document
    while isinstance(current, dict):
        yield current
        current = current.get("object")


def test_corpus_document_has_a_type(document: dict[str, Any]) -> None:
    assert types_of(document)


def test_corpus_document_goes_through_the_vocab_helpers(document: dict[str, Any]) -> None:
    for obj in embedded(document):
        types_of(obj)
        ids = [id_of(obj), id_of(obj.get("actor")), id_of(obj.get("object"))]
        assert all(uri is None or isinstance(uri, str) for uri in ids)
        assert all(isinstance(uri, str) for uri in audience_of(obj))
        assert all(isinstance(uri, str) for uri in attributed_to(obj))
        assert isinstance(addresses_public(obj), bool)
        ids_of(obj.get("to"))
        host_of(id_of(obj))
        if "actor" in obj:
            assert host_of(id_of(obj["actor"])) is not None, (
                "an activity's actor is a URL on some host"
            )


def test_corpus_html_sanitises_without_error(document: dict[str, Any]) -> None:
    for obj in embedded(document):
        texts = [obj.get(field) for field in HTML_FIELDS]
        for field in ("contentMap", "summaryMap", "nameMap"):
            values = obj.get(field)
            if isinstance(values, dict):
                texts.extend(values.values())
        for html in texts:
            if isinstance(html, str):
                cleaned = sanitize_html(html)
                assert "<script" not in cleaned.lower()
                assert isinstance(html_to_text(html), str)


def test_corpus_mastodon_mention_survives_sanitising() -> None:
    path = CORPUS / "mastodon" / "objects" / "note_1.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    note = parse_activity(path.read_bytes())

    cleaned = sanitize_html(note["content"])

    assert (
        '<span class="h-card"><a href="https://mamot.fr/@retiolus" class="u-url mention"' in cleaned
    )
    assert html_to_text(note["content"]).startswith("@retiolus i have never been disappointed")
    assert addresses_public(note)
    assert attributed_to(note) == ["https://mastodon.madrid/users/felix"]
