"""What the worker does with each kind of activity: origin rules, followers, content, moderation."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from federation import retry, vocab
from inbox import worker
from inbox.handlers import HANDLERS, Context
from models import actors, group_moderation
from models.base import utcnow
from models.content import RemoteObject, RemoteObjectKind
from models.follows import Direction, Follow, FollowState
from models.queue import Incoming
from models.remote import RemoteActor
from models.transactions import NetworkInTransaction
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
INBOX = f"{BASE}/inbox"


@dataclass
class World:
    instance: Instance
    alice: MastodonPeer
    mallory: MastodonPeer

    async def run(self, sender: MastodonPeer, activity: dict[str, Any]) -> tuple[str, str | None]:
        """Deliver one activity, run the worker, and say how it ended."""
        assert (await sender.send(INBOX, activity)).status_code == 202
        assert await worker.run_once(self.instance.runtime) == 1
        async with self.instance.runtime.sessions() as session:
            row = (
                await session.execute(
                    select(Incoming.state, Incoming.last_error)
                    .order_by(Incoming.id.desc())
                    .limit(1)
                )
            ).one()
        return row.state, row.last_error

    async def objects(self) -> dict[str, RemoteObject]:
        async with self.instance.runtime.sessions() as session:
            return {o.uri: o for o in await session.scalars(select(RemoteObject))}

    async def follows(self) -> list[tuple[str, str, str]]:
        async with self.instance.runtime.sessions() as session:
            rows = await session.execute(
                select(Follow.direction, Follow.state, RemoteActor.uri)
                .join(RemoteActor)
                .order_by(Follow.id)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    async def group_follows(self, peer: MastodonPeer) -> None:
        """The group follows `peer`, accepted."""
        runtime = self.instance.runtime
        remote = await Context(runtime).actor(peer.actor_uri)
        async with runtime.sessions() as session, session.begin():
            group = await actors.find_actor(session, "food")
            assert group is not None
            session.add(
                Follow(
                    activity_uri=f"{BASE}/activities/f-{peer.username}",
                    direction=Direction.OUTBOUND,
                    local_actor_id=group.id,
                    remote_actor_id=remote.id,
                    state=FollowState.ACCEPTED,
                )
            )


@pytest.fixture
async def world(net: Net) -> World:
    alice, mallory = net.peer("http://127.0.0.1:8201"), net.peer("http://127.0.0.1:8202", "mallory")
    return World(await net.instance(BASE), alice, mallory)


async def test_create_of_an_object_on_another_host_is_ignored(world: World) -> None:
    create = world.alice.note("<p>hi</p>", to=[GROUP], mention=GROUP)
    create["object"]["id"] = f"{world.mallory.actor_uri}/statuses/1"
    state, reason = await world.run(world.alice, create)
    assert state == "ignored" and "another host" in (reason or "")
    assert await world.objects() == {}


async def test_an_embedded_object_attributed_to_someone_else_is_refetched_from_its_origin(
    world: World,
) -> None:
    create = world.alice.note("<p>the real words</p>", to=[GROUP], mention=GROUP)
    create["object"] = {
        **create["object"],
        "attributedTo": world.mallory.actor_uri,
        "content": "<p>forged</p>",
    }
    state, _ = await world.run(world.alice, create)
    assert state == "done"
    stored = (await world.objects())[create["object"]["id"]]
    assert "the real words" in stored.content_html
    assert ("GET", create["object"]["id"].split("8201")[1]) in world.alice.requests


async def test_update_and_delete_by_someone_on_another_host_change_nothing(world: World) -> None:
    create = world.alice.note("<p>original</p>", to=[GROUP], mention=GROUP)
    assert (await world.run(world.alice, create))[0] == "done"
    note_uri = create["object"]["id"]
    update_ = {
        "id": world.mallory.new_id(),
        "type": "Update",
        "actor": world.mallory.actor_uri,
        "object": {**create["object"], "content": "<p>vandalised</p>"},
    }
    assert (await world.run(world.mallory, update_))[0] == "ignored"
    delete = {
        "id": world.mallory.new_id(),
        "type": "Delete",
        "actor": world.mallory.actor_uri,
        "object": note_uri,
    }
    assert (await world.run(world.mallory, delete))[0] == "ignored"
    assert "original" in (await world.objects())[note_uri].content_html


async def test_update_by_the_author_edits_the_object(world: World) -> None:
    create = world.alice.note("<p>original</p>", to=[GROUP], mention=GROUP)
    await world.run(world.alice, create)
    edited = {**create["object"], "content": "<p>edited</p>"}
    world.alice.objects[edited["id"]] = edited
    update_ = {
        "id": world.alice.new_id(),
        "type": "Update",
        "actor": world.alice.actor_uri,
        "object": edited,
    }
    assert (await world.run(world.alice, update_))[0] == "done"
    assert "edited" in (await world.objects())[edited["id"]].content_html


async def test_a_public_post_mentioning_the_group_is_a_submission(world: World) -> None:
    create = world.alice.note(
        "<p>@food who needs soup?</p>", to=[vocab.PUBLIC], cc=[GROUP], mention=GROUP
    )
    assert (await world.run(world.alice, create))[0] == "done"
    assert (await world.objects())[create["object"]["id"]].kind == RemoteObjectKind.SUBMISSION


async def test_posts_from_followed_actors_are_content_and_from_strangers_ignored(
    world: World,
) -> None:
    stranger = world.alice.note("<p>hello world</p>", to=[vocab.PUBLIC])
    state, reason = await world.run(world.alice, stranger)
    assert state == "ignored" and "no one we follow" in (reason or "")
    await world.group_follows(world.alice)
    post = world.alice.note("<p>hello followers</p>", to=[vocab.PUBLIC])
    assert (await world.run(world.alice, post))[0] == "done"
    assert (await world.objects())[post["object"]["id"]].kind == RemoteObjectKind.CONTENT


async def test_announce_from_a_followed_actor_fetches_the_foreign_object_by_id(
    world: World,
) -> None:
    await world.group_follows(world.alice)
    original = world.mallory.note("<p>mallory's real post</p>", to=[vocab.PUBLIC])["object"]
    announce = {
        "id": world.alice.new_id(),
        "type": "Announce",
        "actor": world.alice.actor_uri,
        "to": [vocab.PUBLIC],
        "object": {**original, "content": "<p>tampered copy</p>"},
    }
    assert (await world.run(world.alice, announce))[0] == "done"
    stored = (await world.objects())[original["id"]]
    assert "real post" in stored.content_html
    async with world.instance.runtime.sessions() as session:
        author = await session.get(RemoteActor, stored.remote_actor_id)
    assert author is not None and author.uri == world.mallory.actor_uri


async def test_announce_from_someone_nobody_follows_is_ignored_without_fetching(
    world: World,
) -> None:
    original = world.mallory.note("<p>post</p>", to=[vocab.PUBLIC])["object"]
    announce = {
        "id": world.alice.new_id(),
        "type": "Announce",
        "actor": world.alice.actor_uri,
        "object": original["id"],
    }
    assert (await world.run(world.alice, announce))[0] == "ignored"
    assert world.mallory.requests == []


async def test_flag_is_a_report_for_the_group(world: World) -> None:
    flag = {
        "id": world.alice.new_id(),
        "type": "Flag",
        "actor": world.alice.actor_uri,
        "object": [GROUP],
        "content": "<b>spam</b> <script>x</script>",
    }
    assert (await world.run(world.alice, flag))[0] == "done"
    report = (await world.objects())[flag["id"]]
    assert report.kind == RemoteObjectKind.REPORT and "script" not in report.content_html


async def test_a_flag_from_an_actor_the_group_blocked_is_not_stored(world: World) -> None:
    first = {
        "id": world.alice.new_id(),
        "type": "Flag",
        "actor": world.alice.actor_uri,
        "object": [GROUP],
    }
    assert (await world.run(world.alice, first))[0] == "done"
    async with world.instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        alice = await session.scalar(
            select(RemoteActor).where(RemoteActor.uri == world.alice.actor_uri)
        )
        assert group is not None and alice is not None
        await group_moderation.block_actor(session, world.instance.runtime.uris, group, alice)

    again = {**first, "id": world.alice.new_id()}
    assert (await world.run(world.alice, again))[0] == "ignored"
    assert again["id"] not in await world.objects()


async def test_block_removes_the_blockers_follow(world: World) -> None:
    await world.run(world.alice, world.alice.follow(GROUP))
    block = {
        "id": world.alice.new_id(),
        "type": "Block",
        "actor": world.alice.actor_uri,
        "object": GROUP,
    }
    assert (await world.run(world.alice, block))[0] == "done"
    assert await world.follows() == []


async def test_move_moves_the_follower_only_when_the_target_confirms(world: World) -> None:
    await world.run(world.alice, world.alice.follow(GROUP))
    move = {
        "id": world.alice.new_id(),
        "type": "Move",
        "actor": world.alice.actor_uri,
        "object": world.alice.actor_uri,
        "target": world.mallory.actor_uri,
    }
    assert (await world.run(world.alice, move))[0] == "ignored"
    assert [uri for _, _, uri in await world.follows()] == [world.alice.actor_uri]
    world.mallory.also_known_as.append(world.alice.actor_uri)
    assert (await world.run(world.alice, {**move, "id": world.alice.new_id()}))[0] == "done"
    assert [uri for _, _, uri in await world.follows()] == [world.mallory.actor_uri]


async def test_update_of_the_actor_refreshes_its_profile(world: World) -> None:
    await world.run(world.alice, world.alice.follow(GROUP))
    profile = {**world.alice.actor_document(), "name": "Alice Renamed"}
    update_ = {
        "id": world.alice.new_id(),
        "type": "Update",
        "actor": world.alice.actor_uri,
        "object": profile,
    }
    assert (await world.run(world.alice, update_))[0] == "done"
    async with world.instance.runtime.sessions() as session:
        name = await session.scalar(
            select(RemoteActor.name).where(RemoteActor.uri == world.alice.actor_uri)
        )
    assert name == "Alice Renamed"


async def test_delete_of_a_known_actor_drops_its_follows_and_content(world: World) -> None:
    await world.run(world.alice, world.alice.follow(GROUP))
    await world.run(world.alice, world.alice.note("<p>dm</p>", to=[GROUP], mention=GROUP))
    delete = {
        "id": f"{world.alice.actor_uri}#delete",
        "type": "Delete",
        "actor": world.alice.actor_uri,
        "object": world.alice.actor_uri,
    }
    assert (await world.run(world.alice, delete))[0] == "done"
    assert await world.follows() == [] and await world.objects() == {}


async def test_an_unknown_type_is_ignored_with_the_type(world: World) -> None:
    state, reason = await world.run(
        world.alice,
        {
            "id": world.alice.new_id(),
            "type": "Lock",
            "actor": world.alice.actor_uri,
            "object": GROUP,
        },
    )
    assert state == "ignored" and "Lock" in (reason or "")


async def test_a_failing_handler_is_retried_with_backoff_then_failed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(ctx: Context, activity: dict[str, Any]) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(HANDLERS, "Like", broken)
    like = {
        "id": world.alice.new_id(),
        "type": "Like",
        "actor": world.alice.actor_uri,
        "object": GROUP,
    }
    state, reason = await world.run(world.alice, like)
    assert state == "pending" and "database hiccup" in (reason or "")
    runtime = world.instance.runtime
    assert await worker.run_once(runtime) == 0  # not due yet
    for _ in range(retry.INBOX.attempts - 1):
        async with runtime.sessions() as session, session.begin():
            await session.execute(
                update(Incoming).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        assert await worker.run_once(runtime) == 1
    async with runtime.sessions() as session:
        row = (await session.execute(select(Incoming.state, Incoming.attempts))).one()
    assert (row.state, row.attempts) == ("failed", retry.INBOX.attempts)


async def test_handlers_cannot_touch_the_network_inside_a_transaction(world: World) -> None:
    ctx = Context(world.instance.runtime)
    with pytest.raises(NetworkInTransaction):
        async with ctx.transaction():
            await ctx.fetch(world.alice.actor_uri)
    assert world.alice.requests == []


async def test_an_actor_answering_410_is_marked_gone_and_its_activities_ignored(
    world: World,
) -> None:
    # Given the key was checked, and then the account was deleted before the worker looked it up
    assert (await world.alice.send(INBOX, world.alice.follow(GROUP))).status_code == 202
    world.alice.gone = True
    await worker.run_once(world.instance.runtime)
    async with world.instance.runtime.sessions() as session:
        state, reason = (await session.execute(select(Incoming.state, Incoming.last_error))).one()
    assert state == "ignored" and "Gone" in (reason or "")
    async with world.instance.runtime.sessions() as session:
        gone = await session.scalar(
            select(RemoteActor.gone).where(RemoteActor.uri == world.alice.actor_uri)
        )
    assert gone is True
    assert await world.follows() == []


async def test_a_stale_actor_is_refetched_and_a_fresh_one_is_not(world: World) -> None:
    await world.run(world.alice, world.alice.follow(GROUP))
    fetches = world.alice.requests.count(("GET", "/users/alice"))
    await world.run(world.alice, world.alice.follow(GROUP))
    assert world.alice.requests.count(("GET", "/users/alice")) == fetches
    async with world.instance.runtime.sessions() as session, session.begin():
        await session.execute(update(RemoteActor).values(fetched_at=utcnow() - timedelta(days=2)))
    await world.run(world.alice, world.alice.follow(GROUP))
    assert world.alice.requests.count(("GET", "/users/alice")) == fetches + 1


async def test_only_the_followers_own_undo_removes_a_follow(world: World) -> None:
    follow = world.alice.follow(GROUP)
    await world.run(world.alice, follow)
    by_reference = {
        "id": world.mallory.new_id(),
        "type": "Undo",
        "actor": world.mallory.actor_uri,
        "object": follow["id"],
    }
    assert (await world.run(world.mallory, by_reference))[0] == "ignored"
    embedded = {**world.mallory.undo(follow), "id": world.mallory.new_id()}
    assert (await world.run(world.mallory, embedded))[0] == "ignored"
    assert [uri for _, _, uri in await world.follows()] == [world.alice.actor_uri]
    own = {
        "id": world.alice.new_id(),
        "type": "Undo",
        "actor": world.alice.actor_uri,
        "object": follow["id"],
    }
    assert (await world.run(world.alice, own))[0] == "done"
    assert await world.follows() == []


async def test_a_host_given_up_on_is_revived_when_it_sends_us_an_activity(world: World) -> None:
    from models.queue import Host

    async with world.instance.runtime.sessions() as session, session.begin():
        session.add(
            Host(
                host=world.alice.host,
                consecutive_failures=9,
                first_failure_at=utcnow() - timedelta(days=2),
                unavailable_since=utcnow() - timedelta(days=1),
            )
        )

    await world.run(world.alice, world.alice.note("<p>hello again</p>", to=[GROUP], mention=GROUP))

    async with world.instance.runtime.sessions() as session:
        host = await session.scalar(select(Host).where(Host.host == world.alice.host))
    assert host is not None
    assert host.unavailable_since is None
    assert host.consecutive_failures == 0
