"""Property: whatever arrives, signed or not, the route never answers 500 and the worker never
lets an exception escape nor leaves a row failing for an unexpected reason."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from federation import vocab
from inbox import worker
from models.queue import Incoming
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
INBOX = f"{BASE}/inbox"
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [GROUP, vocab.PUBLIC, "as:Public", BASE, "http://127.0.0.1:8201/users/alice"]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
TYPES = [
    "Follow",
    "Undo",
    "Accept",
    "Reject",
    "Create",
    "Update",
    "Delete",
    "Announce",
    "Like",
    "Flag",
    "Block",
    "Move",
    "Note",
    "Person",
    ["Create", "Note"],
    "as:Follow",
    7,
    None,
]


@dataclass
class World:
    instance: Instance
    peer: MastodonPeer


@pytest.fixture
async def world(net: Net) -> World:
    peer = net.peer("http://127.0.0.1:8201")
    return World(await net.instance(BASE), peer)


def realistic(peer: MastodonPeer) -> list[dict[str, Any]]:
    follow = peer.follow(GROUP)
    note = peer.note("<p>hi</p>", to=[GROUP], mention=GROUP)
    return [
        follow,
        peer.undo(follow),
        note,
        peer.delete(note["object"]),
        {
            "id": peer.new_id(),
            "type": "Announce",
            "actor": peer.actor_uri,
            "object": note["object"]["id"],
        },
        {
            "id": peer.new_id(),
            "type": "Flag",
            "actor": peer.actor_uri,
            "object": [GROUP],
            "content": "x",
        },
        {
            "id": peer.new_id(),
            "type": "Move",
            "actor": peer.actor_uri,
            "object": peer.actor_uri,
            "target": peer.actor_uri,
        },
    ]


def mutate(document: Any, path: list[int], value: Any) -> Any:
    """Replace (or drop, when value is ...) the entry picked by `path` at any depth."""
    if not path or not isinstance(document, dict | list) or not document:
        return value
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[path[0] % len(keys)]
    copy = dict(document) if isinstance(document, dict) else list(document)
    if len(path) == 1 and value is ... and isinstance(copy, dict):
        del copy[key]
    else:
        copy[key] = mutate(copy[key], path[1:], None if value is ... else value)  # type: ignore[index]
    return copy


async def check_worker(world: World) -> None:
    runtime = world.instance.runtime
    while await worker.run_once(runtime):
        pass
    async with runtime.sessions() as session:
        rows = (await session.execute(select(Incoming.state, Incoming.last_error))).all()
    unexpected = [(r.state, r.last_error) for r in rows if r.state not in ("done", "ignored")]
    assert unexpected == []


@FUZZ
@given(body=json_values)
async def test_random_json_never_gets_a_500(world: World, body: Any) -> None:
    raw = json.dumps(body).encode()
    assert (await world.instance.http.post("/inbox", content=raw)).status_code in (400, 401)
    signed = await world.peer.send(INBOX, body) if isinstance(body, dict) else None
    if signed is not None:
        assert signed.status_code in (202, 400, 401)
    await check_worker(world)


@FUZZ
@given(
    data=st.data(),
    kind=st.integers(0, 6),
    type_=st.sampled_from(TYPES),
    path=st.lists(st.integers(0, 20), min_size=1, max_size=4),
    value=json_values | st.just(...),
)
async def test_mutated_real_activities_never_break_the_route_or_the_worker(
    world: World, data: st.DataObject, kind: int, type_: Any, path: list[int], value: Any
) -> None:
    activity = realistic(world.peer)[kind]
    if data.draw(st.booleans()):
        activity = {**activity, "type": type_}
    activity = mutate(activity, path, value)
    if not isinstance(activity, dict):
        activity = {"type": type_, "actor": world.peer.actor_uri, "object": activity}
    activity.setdefault("actor", world.peer.actor_uri)
    response = await world.peer.send(INBOX, activity)
    assert response.status_code in (202, 400, 401)
    await check_worker(world)


async def test_uris_wider_than_the_columns_are_ignored_not_retried(world: World) -> None:
    long = f"{world.peer.actor_uri}/statuses/" + "9" * 3000
    note = world.peer.note("<p>x</p>", to=[GROUP], mention=GROUP, in_reply_to=long)
    delete = {
        "id": world.peer.new_id(),
        "type": "Delete",
        "actor": world.peer.actor_uri,
        "object": long,
    }
    for activity in (note, delete):
        assert (await world.peer.send(INBOX, activity)).status_code == 202
    await check_worker(world)
