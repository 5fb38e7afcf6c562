"""Upgrading: a server on a schema behind the code refuses to start and its health check says
so, and migrating a populated database down and up again loses no key, follow or item."""

import asyncio
from pathlib import Path

import httpx
import pytest

from ayni.app import create_app
from ayni.cli import main
from models import db
from models.heartbeats import LATE_AFTER, Heartbeats
from tests.conftest import DatabaseUrls
from tests.instances import settings_for
from tests.populated import BASE_URL, populate, rows

HEAD = db.revisions()[-1]


async def migrated_to(database_urls: DatabaseUrls, revision: str) -> str:
    url = await database_urls.new(migrated=False)
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine, revision)
    finally:
        await engine.dispose()
    return url


async def health(app: object) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url=BASE_URL,
    ) as http:
        return await http.get("/healthz")


def test_serve_and_worker_refuse_a_schema_behind_the_code(
    database_urls: DatabaseUrls,
    clean_environ: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AYNI_CONFIG", str(clean_environ / "none.toml"))
    monkeypatch.setenv("AYNI_BASE_URL", BASE_URL)
    monkeypatch.setenv("AYNI_DATABASE_URL", asyncio.run(migrated_to(database_urls, "0005")))

    results = [(main([command]), *capsys.readouterr()) for command in ("serve", "worker")]

    expected = (
        f"ayni: error: the database schema is at 0005, this version needs {HEAD}: "
        "run `ayni migrate`\n"
    )
    assert results == [(1, "", expected), (1, "", expected)]
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == f"Database at revision {HEAD}.\n"


async def test_healthz_is_503_while_the_schema_is_behind(database_urls: DatabaseUrls) -> None:
    url = await migrated_to(database_urls, "0010")
    app = create_app(settings_for(BASE_URL, url))
    try:
        behind = await health(app)
        await db.upgrade(app.state.runtime.engine)
        current = await health(app)
    finally:
        await app.state.runtime.close()

    assert behind.status_code == 503
    assert behind.json()["schema"] == {"state": "behind", "revision": "0010", "needs": HEAD}
    assert current.status_code == 200
    assert current.json()["schema"]["state"] == "current"


async def test_healthz_is_ok_while_the_workers_of_serve_run_and_503_once_one_is_late(
    database_url: str,
) -> None:
    app = create_app(settings_for(BASE_URL, database_url), workers=True)
    async with app.router.lifespan_context(app):
        served = await health(app)
        now = [0.0]
        heartbeats = Heartbeats(clock=lambda: now[0])
        app.state.runtime.heartbeats = heartbeats
        heartbeats.expect(["inbox", "outbox", "expiry"])
        now[0] += LATE_AFTER / 2
        heartbeats.beat("inbox")
        heartbeats.beat("outbox")
        now[0] += LATE_AFTER / 2 + 1
        late = await health(app)

    assert served.status_code == 200, served.text
    assert set(served.json()["workers"]["last_round"]) == {
        "inbox",
        "outbox",
        "expiry",
        "alerts",
        "push",
    }
    assert late.status_code == 503
    assert late.json()["workers"]["late"] == ["expiry"]


async def test_a_populated_database_goes_down_to_0008_and_up_again_without_losing_a_row(
    database_url: str,
) -> None:
    await populate(database_url)
    before = await rows(database_url)
    engine = db.create_engine(database_url)
    try:
        await db.downgrade(engine, "0008")
        at_0008 = await rows(database_url, {"actor_keys", "follows", "items", "deliveries"})
        await db.upgrade(engine)
    finally:
        await engine.dispose()
    after = await rows(database_url)

    assert {name: len(found) for name, found in at_0008.items()} == {
        "actor_keys": 4,
        "deliveries": 1,
        "follows": 1,
        "items": 1,
    }
    # Every row, with every column 0008 has
    assert at_0008 == {
        name: [{column: row[column] for column in found[0]} for row in before[name]]
        for name, found in at_0008.items()
    }
    assert after == before
