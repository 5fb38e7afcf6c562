"""Every document of the interop corpus goes through normalisation and dispatch, on both
databases, with the network stubbed: each ends handled (`done`) or `ignored` with a reason.

The corpus lives outside the repository (../shared/interop-corpus); without it this test skips.
"""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from federation import vocab
from federation.errors import NotFound
from inbox import worker
from models.queue import Incoming
from tests.instances import start_instance

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "interop-corpus"
FILES = sorted(CORPUS.rglob("*.json")) if CORPUS.is_dir() else []


def corpus() -> dict[Path, dict[str, Any]]:
    if not FILES:
        pytest.skip(f"interop corpus not found at {CORPUS}")
    return {path: vocab.parse_activity(path.read_bytes()) for path in FILES}


async def test_every_corpus_document_is_handled_or_ignored_with_a_reason(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = corpus()
    # Fetches are answered from the corpus itself, by id; anything else is "not found".
    by_id = {doc["id"]: doc for doc in documents.values() if isinstance(doc.get("id"), str)}
    fetched: list[str] = []

    async with start_instance("http://127.0.0.1:8101", database_url) as instance:
        runtime = instance.runtime

        async def fetch(url: str) -> dict[str, Any]:
            fetched.append(url)
            if url in by_id:
                return by_id[url]
            if "/u/" in url or "/users/" in url or "/c/" in url:
                # Actors the corpus does not hold: a minimal Person, so handlers get past the actor.
                return {
                    "id": url,
                    "type": "Person",
                    "inbox": f"{url}/inbox",
                    "preferredUsername": "x",
                }
            raise NotFound(f"{url} is not in the corpus", url=url, status=404)

        monkeypatch.setattr(runtime, "fetch", fetch)
        async with runtime.sessions() as session, session.begin():
            for n, (path, document) in enumerate(documents.items()):
                session.add(
                    Incoming(
                        activity_uri=f"corpus:{n}:{path.relative_to(CORPUS)}",
                        activity_type=(vocab.types_of(document) or ["?"])[0][:64],
                        actor_uri=vocab.id_of(document.get("actor")) or "",
                        document=document,
                    )
                )
        while await worker.run_once(runtime):
            pass
        async with runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(Incoming.activity_uri, Incoming.state, Incoming.last_error)
                )
            ).all()

    assert len(rows) == len(documents)
    unexpected = [
        (r.activity_uri, r.state, r.last_error)
        for r in rows
        if r.state not in ("done", "ignored") or (r.state == "ignored" and not r.last_error)
    ]
    assert unexpected == []
    handled = [r.activity_uri for r in rows if r.state == "done"]
    assert handled, "at least some real activities are acted on"
