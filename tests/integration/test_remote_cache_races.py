"""What we cache from other servers is written once however many writers race for it.

Two engines on one database stand for two processes of one instance (two `ayni serve`
workers, or a web process and an inbox worker): neither sees what the other has not yet
committed, so "look it up, insert it if absent" would fail on the unique key. Each test
starts both writers at the same moment, for several rows in turn, on SQLite and PostgreSQL.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation import keys
from federation.items import Kind, Status, Visibility
from federation.items import RemoteItem as RemoteItemValue
from federation.keys import VerificationKey
from federation.remote_actor import actor_from_ap
from models import db, hosts, inbound, remote_actors
from models.base import utcnow
from models.content import RemoteObject, Tombstone
from models.items import RemoteItem, store_remote_item
from models.queue import Host
from models.remote import KeyStore, RemoteActor, RemoteKey

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")
ROUNDS = 5


@pytest.fixture
async def writers(database_url: str) -> AsyncIterator[tuple[Sessions, Sessions]]:
    engines = [db.create_engine(database_url), db.create_engine(database_url)]
    await db.upgrade(engines[0])
    yield db.sessionmaker(engines[0]), db.sessionmaker(engines[1])
    for engine in engines:
        await engine.dispose()


async def at_once(
    write: Callable[[Sessions, int], Awaitable[T]], writers: tuple[Sessions, Sessions], n: int
) -> list[T]:
    """Both writers write row `n` at the same moment."""
    return list(await asyncio.gather(*(write(sessions, n) for sessions in writers)))


async def count(sessions: Sessions, table: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def actor_document(n: int, name: str = "Alice") -> dict[str, Any]:
    uri = f"https://remote.example/users/u{n}"
    return {
        "id": uri,
        "type": "Person",
        "preferredUsername": f"u{n}",
        "name": name,
        "inbox": f"{uri}/inbox",
        "followers": f"{uri}/followers",
        "endpoints": {"sharedInbox": "https://remote.example/inbox"},
    }


async def a_remote_actor(sessions: Sessions, n: int) -> int:
    async with sessions() as session, session.begin():
        document = actor_document(n)
        return (await remote_actors.upsert(session, actor_from_ap(document), document)).id


async def test_a_new_key_saved_by_two_processes_at_once_is_stored_once(
    writers: tuple[Sessions, Sessions],
) -> None:
    public_keys = [keys.generate_private_key().public_key() for _ in range(ROUNDS)]

    async def save(sessions: Sessions, n: int) -> None:
        owner = f"https://remote.example/users/u{n}"
        await KeyStore(sessions).save(VerificationKey(f"{owner}#main-key", owner, public_keys[n]))

    for n in range(ROUNDS):
        await at_once(save, writers, n)
        loaded = await KeyStore(writers[1]).load(f"https://remote.example/users/u{n}#main-key")
        assert loaded is not None and loaded.owner_uri == f"https://remote.example/users/u{n}"
        assert keys.public_key_to_pem(loaded.public_key) == keys.public_key_to_pem(public_keys[n])
    assert (await count(writers[0], RemoteKey), await count(writers[0], RemoteActor)) == (
        ROUNDS,
        ROUNDS,
    )


async def test_a_key_saved_for_a_known_actor_keeps_what_we_know_of_it(
    writers: tuple[Sessions, Sessions],
) -> None:
    actor_id = await a_remote_actor(writers[0], 1)
    key = VerificationKey(
        "https://remote.example/users/u1#main-key",
        "https://remote.example/users/u1",
        keys.generate_private_key().public_key(),
    )
    await KeyStore(writers[1]).save(key)
    async with writers[0]() as session:
        actor = await session.get_one(RemoteActor, actor_id)
        stored = await session.scalar(select(RemoteKey).where(RemoteKey.key_uri == key.key_id))
    assert (actor.name, actor.inbox_uri) == ("Alice", "https://remote.example/users/u1/inbox")
    assert stored is not None and stored.actor_id == actor_id


async def test_a_rotated_key_saved_again_replaces_the_old_one(
    writers: tuple[Sessions, Sessions],
) -> None:
    owner = "https://remote.example/users/u1"
    old, new = (
        VerificationKey(f"{owner}#main-key", owner, keys.generate_private_key().public_key())
        for _ in range(2)
    )
    await KeyStore(writers[0]).save(old)
    await KeyStore(writers[1]).save(new)
    loaded = await KeyStore(writers[0]).load(new.key_id)
    assert loaded is not None
    assert keys.public_key_to_pem(loaded.public_key) == keys.public_key_to_pem(new.public_key)
    assert await count(writers[0], RemoteKey) == 1


async def test_an_actor_stored_by_two_processes_at_once_is_one_row_with_its_document(
    writers: tuple[Sessions, Sessions],
) -> None:
    async def store(sessions: Sessions, n: int) -> int:
        document = actor_document(n, name=f"Alice {n}")
        async with sessions() as session, session.begin():
            return (await remote_actors.upsert(session, actor_from_ap(document), document)).id

    for n in range(ROUNDS):
        ids = await at_once(store, writers, n)
        assert ids[0] == ids[1]
    async with writers[0]() as session:
        names = list(await session.scalars(select(RemoteActor.name).order_by(RemoteActor.id)))
    assert names == [f"Alice {n}" for n in range(ROUNDS)]


async def test_an_actor_stored_again_is_refreshed_and_no_longer_gone(
    writers: tuple[Sessions, Sessions],
) -> None:
    actor_id = await a_remote_actor(writers[0], 1)
    async with writers[0]() as session, session.begin():
        (await session.get_one(RemoteActor, actor_id)).gone = True
    document = actor_document(1, name="Alice B.")
    async with writers[1]() as session, session.begin():
        # The session already holds the row as it was: the upsert must not hand that back.
        held = await session.get_one(RemoteActor, actor_id)
        actor = await remote_actors.upsert(session, actor_from_ap(document), document)
        assert actor is held
        assert (actor.id, actor.name, actor.gone, actor.document) == (
            actor_id,
            "Alice B.",
            False,
            document,
        )


async def test_an_object_stored_by_two_processes_at_once_is_stored_once(
    writers: tuple[Sessions, Sessions],
) -> None:
    actor_id = await a_remote_actor(writers[0], 1)

    async def store(sessions: Sessions, n: int) -> int | None:
        uri = f"https://remote.example/notes/{n}"
        async with sessions() as session, session.begin():
            remote = await session.get_one(RemoteActor, actor_id)
            row = await inbound.store_object(
                session,
                uri=uri,
                type="Note",
                kind="content",
                remote=remote,
                local_actor_id=None,
                in_reply_to_uri=None,
                content_html="<p>hi</p>",
                public=True,
                document={"id": uri},
            )
            return None if row is None else row.id

    for n in range(ROUNDS):
        stored = await at_once(store, writers, n)
        assert [row_id is None for row_id in stored].count(True) == 1  # the other one stored it
    assert await count(writers[0], RemoteObject) == ROUNDS


async def test_a_delete_received_twice_at_once_leaves_one_tombstone(
    writers: tuple[Sessions, Sessions],
) -> None:
    async def delete(sessions: Sessions, n: int) -> bool:
        async with sessions() as session, session.begin():
            return await inbound.delete_object(
                session, f"https://remote.example/notes/{n}", "https://remote.example/users/u1"
            )

    for n in range(ROUNDS):
        assert await at_once(delete, writers, n) == [False, False]
    assert await count(writers[0], Tombstone) == ROUNDS


async def test_a_board_item_stored_by_two_processes_at_once_is_one_row(
    writers: tuple[Sessions, Sessions],
) -> None:
    actor_id = await a_remote_actor(writers[0], 1)

    async def store(sessions: Sessions, n: int) -> int:
        uri = f"https://remote.example/items/{n}"
        value = RemoteItemValue(
            uri=uri,
            kind=Kind.ASK,
            title=f"Ask {n}",
            status=Status.OPEN,
            author_uri="https://remote.example/users/u1",
            visibility=Visibility.PUBLIC,
        )
        async with sessions() as session, session.begin():
            return (await store_remote_item(session, actor_id, value, {"id": uri})).id

    for n in range(ROUNDS):
        ids = await at_once(store, writers, n)
        assert ids[0] == ids[1]
    async with writers[0]() as session:
        titles = list(await session.scalars(select(RemoteItem.title).order_by(RemoteItem.id)))
    assert titles == [f"Ask {n}" for n in range(ROUNDS)]


async def test_a_board_item_updated_keeps_its_author_and_takes_the_new_values(
    writers: tuple[Sessions, Sessions],
) -> None:
    author, other = await a_remote_actor(writers[0], 1), await a_remote_actor(writers[0], 2)
    uri = "https://remote.example/items/1"
    first = RemoteItemValue(
        uri=uri,
        kind=Kind.ASK,
        title="Soup",
        status=Status.OPEN,
        author_uri="https://remote.example/users/u1",
        visibility=Visibility.PUBLIC,
        quantity=3,
    )
    async with writers[0]() as session, session.begin():
        row = await store_remote_item(session, author, first, {"id": uri})
    changed = RemoteItemValue(
        uri=uri,
        kind=Kind.ASK,
        title="Soup, please",
        status=Status.FULFILLED,
        author_uri="https://remote.example/users/u1",
        visibility=Visibility.PUBLIC,
    )
    async with writers[0]() as session, session.begin():
        held = await session.get_one(
            RemoteItem, row.id
        )  # the session's copy, from before the update
        updated = await store_remote_item(session, other, changed, {"id": uri, "v": 2})
        assert updated is held
        assert (updated.id, updated.remote_actor_id) == (row.id, author)
        assert (updated.title, updated.status, updated.quantity, updated.document) == (
            "Soup, please",
            "fulfilled",
            None,
            {"id": uri, "v": 2},
        )


async def test_two_workers_failing_on_a_new_host_at_once_count_both_failures(
    writers: tuple[Sessions, Sessions],
) -> None:
    async def fail(sessions: Sessions, n: int) -> None:
        async with sessions() as session, session.begin():
            await hosts.record_failures(session, {f"down{n}.example": utcnow()}, utcnow())

    for n in range(ROUNDS):
        await at_once(fail, writers, n)

    async with writers[0]() as session:
        rows = await session.execute(select(Host.host, Host.consecutive_failures))
        counted = {host: failures for host, failures in rows}
    assert counted == {f"down{n}.example": 2 for n in range(ROUNDS)}
