"""Coming to a call by activity: Join and Leave (Mobilizon, FEP-8a8e, another Ayni group) and
Undo of a Join; Accept, TentativeAccept (maybe) and Reject of the Event (Friendica, Hubzilla);
Invite, which is not acted on. Accept, Reject and Undo also answer follows and our own Joins:
they are routed here, to `joined` (our Joins) or to `follow` by what their object is.

A group that joins speaks for one of its members without naming her: each of its Joins is one
person (`Person.remote_actor(..., on_behalf=join)`), and only an Undo of that Join withdraws her.
"""

from typing import Any
from uuid import uuid4

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.itemterms import Kind
from federation.visibility import Visibility
from inbox.handlers import follow, joined
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import MAX_URI
from inbox.handlers.overflow import on_undo_announce
from models.actors import LocalActor
from models.calls import Channel, Commitment, CommitmentState
from models.commitments import CallClosed, CallFull, Person, commit, find
from models.group_moderation import blocked_by
from models.items import Item
from models.publish import publish
from models.remote import RemoteActor


async def on_join(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri, join_uri = actor_of(activity), _id(activity)
    call_uri = vocab.id_of(activity.get("object"))
    if call_uri is None or not ctx.is_local(call_uri):
        raise Ignored(f"Join of {call_uri!r}, which is not a call here")
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        item, group = await _call(session, remote, call_uri)
        # Another group counts one person per Join: it speaks for someone it does not name.
        on_behalf = join_uri if remote.type == "Group" else None
        person = Person.remote_actor(remote, on_behalf=on_behalf)
        try:
            await commit(session, ctx.runtime, item, person, "coming", Channel.JOIN, via=join_uri)
        except CallFull:
            await _answer_join(ctx, session, group, remote, join_uri, item, "Reject")
            return
        except CallClosed as error:
            raise Ignored(f"Join of {call_uri}: {error}") from None
        await _answer_join(ctx, session, group, remote, join_uri, item, "Accept")


async def on_leave(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri, leave_uri = actor_of(activity), _id(activity)
    call_uri = vocab.id_of(activity.get("object"))
    if call_uri is None or not ctx.is_local(call_uri):
        raise Ignored(f"Leave of {call_uri!r}, which is not a call here")
    remote = await ctx.actor(actor_uri)
    if remote.type == "Group":
        raise Ignored("a group takes back a Join it made for someone by an Undo of that Join")
    async with ctx.transaction() as session:
        item, _ = await _call(session, remote, call_uri)
        person = Person.remote_actor(remote)
        if await find(session, item, person) is None:
            raise Ignored(f"Leave of {call_uri} by {actor_uri}, who never said they were coming")
        await _withdraw(ctx, session, item, person, leave_uri)


async def on_undo(ctx: Context, activity: dict[str, Any]) -> None:
    """Undo of a Join withdraws; of an Announce, is overflow's; any other Undo is follow's."""
    obj = activity.get("object")
    if vocab.has_type(obj, "Announce"):
        await on_undo_announce(ctx, activity)
        return
    join_uri = vocab.id_of(obj)
    if not vocab.has_type(obj, "Join"):
        if isinstance(obj, dict) or join_uri is None or len(join_uri) > MAX_URI:
            await follow.on_undo(ctx, activity)
            return
        async with ctx.transaction() as session:  # a bare id: a Join we counted?
            counted = await session.scalar(
                select(Commitment.id).where(_joined_by(join_uri)).limit(1)
            )
        if counted is None:
            await follow.on_undo(ctx, activity)
            return
    actor_uri, undo_uri = actor_of(activity), _id(activity)
    if join_uri is None or len(join_uri) > MAX_URI:
        raise Ignored("Undo of a Join without a usable id")
    if isinstance(obj, dict) and vocab.id_of(obj.get("actor")) not in (None, actor_uri):
        raise Ignored("Undo of a Join by someone else")
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        row = await session.scalar(
            select(Commitment)
            .where(Commitment.remote_actor_id == remote.id, _joined_by(join_uri))
            .limit(1)
        )
        if row is None:
            raise Ignored(f"Undo of {join_uri}, a Join by {actor_uri} we never counted")
        item = await session.get(Item, row.item_id)
        assert item is not None
        await _withdraw(ctx, session, item, Person(row.person, remote=remote), undo_uri)


async def on_accept(ctx: Context, activity: dict[str, Any]) -> None:
    await _reply(ctx, activity, CommitmentState.COMING, accepted=True)


async def on_tentative_accept(ctx: Context, activity: dict[str, Any]) -> None:
    await _reply(ctx, activity, CommitmentState.MAYBE, accepted=None)


async def on_reject(ctx: Context, activity: dict[str, Any]) -> None:
    await _reply(ctx, activity, CommitmentState.WITHDRAWN, accepted=False)


async def on_invite(ctx: Context, activity: dict[str, Any]) -> None:
    raise Ignored("an Invite is not acted on: people say themselves whether they come")


async def _reply(
    ctx: Context, activity: dict[str, Any], state: CommitmentState, accepted: bool | None
) -> None:
    """Accept/TentativeAccept/Reject of one of our calls (Friendica's answer to an Event), or the
    answer to a Join we sent for a member, or else (Accept, Reject) the answer to a follow."""
    name = vocab.types_of(activity)[0]
    obj = activity.get("object")
    uri = vocab.id_of(obj)
    ours = uri is not None and len(uri) <= MAX_URI and not vocab.has_type(obj, "Follow")
    join = item = None
    if ours:
        async with ctx.transaction() as session:
            join = await joined.outgoing_join(session, uri)
            item = None if join else await session.scalar(select(Item.id).where(Item.uri == uri))
    if join is None and item is None:
        if accepted is None:
            raise Ignored(f"{name} of {uri!r}, which is not a call here")
        handler = follow.on_accept if accepted else follow.on_reject
        await handler(ctx, activity)
        return
    actor_uri = actor_of(activity)
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        if join is not None:
            if accepted is None:
                raise Ignored(f"{name} of a Join: only Accept or Reject answer one")
            found = await joined.outgoing_join(session, uri)
            assert found is not None
            await joined.answered(session, remote, found, accepted)
            return
        assert uri is not None
        call, _ = await _call(session, remote, uri)
        try:
            await commit(
                session,
                ctx.runtime,
                call,
                Person.remote_actor(remote),
                state,
                Channel.EVENT_REPLY,
                via=_id(activity),
            )
        except (CallClosed, CallFull) as error:
            raise Ignored(f"{name} of {uri}: {error}") from None


async def _call(session: AsyncSession, remote: RemoteActor, uri: str) -> tuple[Item, LocalActor]:
    item = await session.scalar(select(Item).where(Item.uri == uri))
    if item is None or item.kind != Kind.CALL:
        raise Ignored(f"{uri} is not a call here")
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    if await blocked_by(session, [group.id], remote):
        raise Ignored(f"{remote.uri} is blocked by the group of {uri}")
    return item, group


async def _withdraw(
    ctx: Context, session: AsyncSession, item: Item, person: Person, via: str
) -> None:
    try:
        await commit(session, ctx.runtime, item, person, "withdrawn", Channel.JOIN, via=via)
    except CallClosed as error:
        raise Ignored(f"withdrawing from {item.uri}: {error}") from None


async def _answer_join(
    ctx: Context,
    session: AsyncSession,
    group: LocalActor,
    remote: RemoteActor,
    join_uri: str,
    item: Item,
    answer: str,
) -> None:
    """Accept or Reject from the call's group, embedding the Join (matched by its id)."""
    group_uri = ctx.runtime.actor_uri(group)
    document = {
        "@context": vocab.AS_CONTEXT,
        "id": ctx.runtime.uris.activity(uuid4().hex),
        "type": answer,
        "actor": group_uri,
        "object": {"id": join_uri, "type": "Join", "actor": remote.uri, "object": item.uri},
        "to": [remote.uri],
    }
    await publish(session, group, document, Visibility.DIRECT, to_actors=[remote.uri])


def _joined_by(join_uri: str) -> Any:
    """The commitment a Join made: keyed by it (a group's), or made by it."""
    return (Commitment.channel == Channel.JOIN) & or_(
        Commitment.person == join_uri, Commitment.via_uri == join_uri
    )


def _id(activity: dict[str, Any]) -> str:
    uri = vocab.id_of(activity)
    if uri is None or len(uri) > MAX_URI:
        raise Ignored("an activity without a usable id")
    return uri
