"""Who is coming to a call: one commitment per person, whatever channel they answered by.

A person is a local member, a remote actor, or someone another group speaks for anonymously
(keyed by that group's Join). Committing, changing one's mind and withdrawing all go through
`commit`, which keeps the count, sends the person their way to the meeting point (or takes it
back), and publishes the new count: an `Update` of the Event and of its poll, at most once a
minute (the periodic job sends what had to wait).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import calls, itemtext
from federation.itemterms import Kind, Status
from federation.visibility import Visibility
from models import alerts, escrow, messages
from models.actors import LocalActor
from models.base import utcnow
from models.calls import Channel, Commitment, CommitmentState
from models.items import Item, counts
from models.posting import publish_update
from models.remote import RemoteActor
from models.runtime import Runtime

COUNT_INTERVAL = timedelta(minutes=1)


class CallClosed(ValueError):
    pass


class CallFull(ValueError):
    pass


@dataclass(frozen=True)
class Person:
    key: str
    member_id: int | None = None
    remote: RemoteActor | None = None

    @classmethod
    def member(cls, member: LocalActor) -> "Person":
        return cls(f"member:{member.id}", member_id=member.id)

    @classmethod
    def remote_actor(cls, actor: RemoteActor, *, on_behalf: str | None = None) -> "Person":
        """`on_behalf`: the Join by which a group commits one of its members anonymously."""
        return cls(on_behalf or actor.uri, remote=actor)


def is_open(item: Item) -> bool:
    return item.kind == Kind.CALL and item.deleted_at is None and item.status == Status.SCHEDULED


async def find(session: AsyncSession, item: Item, person: Person) -> Commitment | None:
    return await session.scalar(
        select(Commitment).where(Commitment.item_id == item.id, Commitment.person == person.key)
    )


async def commit(
    session: AsyncSession,
    runtime: Runtime,
    item: Item,
    person: Person,
    state: CommitmentState | str,
    channel: Channel | str,
    *,
    via: str | None = None,
    now: datetime | None = None,
) -> tuple[Commitment, bool]:
    """Record a person's answer: (the commitment, whether anything changed). Raises CallClosed
    for a call that is over or cancelled, CallFull when it has a capacity and is full."""
    state, now = CommitmentState(state), now or utcnow()
    if not is_open(item):
        raise CallClosed(f"this call is {item.status}" if item.deleted_at is None else "gone")
    row = await find(session, item, person)
    if row is not None and row.state == state:
        return row, False
    if state == CommitmentState.COMING and item.capacity is not None:
        coming = (await counts(session, item))[CommitmentState.COMING]
        if coming >= item.capacity:
            raise CallFull(f"this call is full ({item.capacity} people)")
    was_coming = row is not None and row.state == CommitmentState.COMING
    if row is None:
        row = Commitment(
            item_id=item.id,
            person=person.key,
            member_id=person.member_id,
            remote_actor_id=person.remote.id if person.remote else None,
            created_at=now,
        )
        session.add(row)
    row.state, row.channel, row.via_uri, row.updated_at = state, Channel(channel), via, now
    await session.flush()
    if state == CommitmentState.COMING:
        await reveal(session, runtime, item, row, now=now)
    elif was_coming:
        await escrow.revoke(session, runtime.uris, item, row, now=now)
    await publish_count(session, runtime, item, now=now)
    await alerts.response(session, item, person.member_id)
    return row, True


async def reveal(
    session: AsyncSession,
    runtime: Runtime,
    item: Item,
    commitment: Commitment,
    *,
    now: datetime | None = None,
    force: bool = False,
) -> escrow.EscrowLink | None:
    """Send a remote person who is coming their personal link (or, inline, the meeting point)
    in a direct message, once, when the call has a meeting point and its reveal time has come.
    Members here see it on the call's page instead. `force`: now, whatever the reveal time."""
    now = now or utcnow()
    point = await escrow.meeting_point_row(session, item)
    if point is None or commitment.remote_actor_id is None or not is_open(item):
        return None
    moment = escrow.reveal_time(item, point)
    if not force and moment is not None and now < moment:
        return None
    if not force and await escrow.live_links(session, commitment.id):
        return None
    recipient = await session.get(RemoteActor, commitment.remote_actor_id)
    group = await session.get(LocalActor, item.group_id)
    assert recipient is not None and group is not None and item.starts_at is not None
    link, token = await escrow.issue(session, item, commitment.id, now)
    when = itemtext.when(item.starts_at, item.ends_at, item.timezone)
    if point.reveal_inline:
        text = await escrow.meeting_point(session, runtime.seal, item)
        message = calls.text(
            group.language, "reveal_inline", title=item.title, when=when, place=text
        )
    else:
        url = f"{runtime.settings.base_url}/calls/{item.id}/where/{token}"
        message = calls.text(group.language, "reveal_link", title=item.title, when=when, link=url)
    html = "<p>" + escape(message).replace("\n", "<br>") + "</p>"
    create = await messages.direct_message(
        session,
        runtime.uris,
        group,
        recipient,
        html,
        # A DM answers the person's message; a group speaking for someone it does not name gets
        # it in reply to that Join, so it can pass it on to her; everyone else about the call.
        in_reply_to=commitment.via_uri
        if commitment.via_uri
        and (commitment.channel == Channel.DM or commitment.person != recipient.uri)
        else item.uri,
    )
    link.message_uri = create["object"]["id"]
    await session.flush()
    return link


async def publish_count(
    session: AsyncSession, runtime: Runtime, item: Item, *, now: datetime | None = None
) -> bool:
    """Update the Event and its poll when the coming count differs from the one last published,
    unless one went out less than a minute ago (the periodic job catches up). Whether one went."""
    now = now or utcnow()
    if item.visibility == Visibility.MEMBERS or not is_open(item):
        return False
    coming = (await counts(session, item))[CommitmentState.COMING]
    if coming == (item.count_sent or 0):
        return False
    if item.count_sent_at is not None and now - item.count_sent_at < COUNT_INTERVAL:
        return False
    item.updated_at = now
    await publish_update(session, runtime.uris, item, now=now)
    return True


async def reveal_due(session: AsyncSession, runtime: Runtime, now: datetime | None = None) -> int:
    """Links held back by `--reveal-before` whose time has come: sent now."""
    now = now or utcnow()
    rows = await session.execute(
        select(Commitment, Item)
        .join(Item, Item.id == Commitment.item_id)
        .join(escrow.MeetingPoint, escrow.MeetingPoint.item_id == Item.id)
        .where(
            Item.deleted_at.is_(None),
            Item.status == Status.SCHEDULED,
            escrow.MeetingPoint.reveal_before_s.is_not(None),
            Commitment.state == CommitmentState.COMING,
            Commitment.remote_actor_id.is_not(None),
            ~select(escrow.EscrowLink.id)
            .where(escrow.EscrowLink.commitment_id == Commitment.id)
            .exists(),
        )
        .order_by(Commitment.id)
        .limit(500)
    )
    sent = 0
    for commitment, item in rows:
        if await reveal(session, runtime, item, commitment, now=now) is not None:
            sent += 1
    return sent


async def counts_due(session: AsyncSession, runtime: Runtime, now: datetime | None = None) -> int:
    """Counts that changed within a minute of the last Update: published now."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(Item).where(
                Item.kind == Kind.CALL,
                Item.deleted_at.is_(None),
                Item.status == Status.SCHEDULED,
                Item.visibility != Visibility.MEMBERS,
                Item.count_sent_at < now - COUNT_INTERVAL,
            )
        )
    )
    return sum([await publish_count(session, runtime, item, now=now) for item in due])


async def attendees(session: AsyncSession, item: Item) -> list[Commitment]:
    return list(
        await session.scalars(
            select(Commitment).where(Commitment.item_id == item.id).order_by(Commitment.id)
        )
    )
