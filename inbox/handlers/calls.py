"""Answers to our calls that arrive as a Create: a vote in a call's poll, and a direct message
that says "I'm coming" or "I can't". Both commit through `models.commitments.commit`, which
counts each person once whatever they send, however often."""

import re
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import calls, vocab
from federation.itemterms import Kind
from federation.sanitize import html_to_text
from inbox.handlers.context import Context, Ignored
from inbox.handlers.items import items_named
from models import messages
from models.actors import ActorType, LocalActor
from models.calls import Channel
from models.commitments import CallClosed, CallFull, Person, commit
from models.content import RemoteObject
from models.items import POLL, Item
from models.remote import RemoteActor

_LINK = re.compile(r"https?://\S+")


async def on_vote(
    ctx: Context, session: AsyncSession, remote: RemoteActor, obj: dict[str, Any], public: bool
) -> bool:
    """A vote in one of our polls, counted; False when the object is not a vote (a reply to the
    poll that says something is a message, and goes on as one). Votes are never stored: the
    commitment is all that is kept."""
    poll_uri = vocab.id_of(obj.get("inReplyTo"))
    if public or not isinstance(poll_uri, str) or not poll_uri.endswith(POLL):
        return False
    if not ctx.is_local(poll_uri):
        return False
    item = await session.scalar(select(Item).where(Item.uri == poll_uri.removesuffix(POLL)))
    if item is None or item.kind != Kind.CALL:
        return False
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    answer = calls.vote(obj, item.poll_uri, group.language)
    if answer is None:
        return False
    try:
        _, changed = await commit(
            session,
            ctx.runtime,
            item,
            Person.remote_actor(remote),
            answer,
            Channel.POLL,
            via=vocab.id_of(obj),
        )
    except CallClosed as error:
        raise Ignored(f"a vote in the poll of {item.uri}, which is closed: {error}") from None
    except CallFull as error:
        raise Ignored(f"a vote in the poll of {item.uri}: {error}") from None
    if not changed:
        raise Ignored(f"a vote in the poll of {item.uri} that changes nothing: counted once")
    return True


async def on_message(
    ctx: Context,
    session: AsyncSession,
    remote: RemoteActor,
    local: LocalActor | None,
    stored: RemoteObject,
    obj: dict[str, Any],
) -> bool:
    """A direct message to a group about one of its calls (a reply to the call or its poll, or
    its link) whose words are only "I'm coming" or only "I can't": committed, and the group says
    what it understood. False for anything else: it stays a private response, for people."""
    if local is None or local.type != ActorType.GROUP:
        return False
    # A pasted link says which call, not what about it: the words are the rest.
    answer = calls.intent(_LINK.sub(" ", html_to_text(stored.content_html)))
    named = items_named(ctx, obj)
    if answer not in (calls.Answer.COMING, calls.Answer.WITHDRAWN) or not named:
        return False
    item = await session.scalar(
        select(Item)
        .where(Item.uri.in_(named), Item.group_id == local.id, Item.kind == Kind.CALL)
        .order_by(Item.id)
        .limit(1)
    )
    if item is None:
        return False
    try:
        await commit(
            session,
            ctx.runtime,
            item,
            Person.remote_actor(remote),
            answer,
            Channel.DM,
            via=stored.uri,
        )
    except (CallClosed, CallFull):
        return False  # people read it, and answer it
    key = "understood_coming" if answer == calls.Answer.COMING else "understood_withdrawn"
    html = f"<p>{escape(calls.text(local.language, key, title=item.title))}</p>"
    await messages.direct_message(
        session, ctx.runtime.uris, local, remote, html, in_reply_to=stored.uri
    )
    return True
