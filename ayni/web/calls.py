"""The web side of calls: who a commitment is (for the call's managers and the author's
notifications), and the managers' view of a call: who is coming and by which channel, the
escalation steps taken, the escrow audit. Nobody else sees any of it."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ayni.web.i18n import N_
from models.actors import LocalActor
from models.calls import Channel, Commitment, CommitmentState, Escalation
from models.escrow import EscrowLink, EscrowView
from models.items import Item
from models.messages import handle_of
from models.remote import RemoteActor

CHANNEL_LABELS = {
    Channel.WEB: N_("the button on this page"),
    Channel.CLI: N_("the command line"),
    Channel.POLL: N_("the poll"),
    Channel.DM: N_("a direct message"),
    Channel.JOIN: N_("a Join from another server"),
    Channel.EVENT_REPLY: N_("an answer to the event"),
}
STATE_LABELS = {
    CommitmentState.COMING: N_("coming"),
    CommitmentState.MAYBE: N_("maybe"),
    CommitmentState.WITHDRAWN: N_("no longer coming"),
}


@dataclass(frozen=True)
class Who:
    """A person as the managers see them: a member's name, a remote handle, or (anonymous) the
    group that spoke for someone it does not name."""

    name: str
    link: str | None
    anonymous: bool = False


async def who_is(session: AsyncSession, commitment: Commitment) -> Who:
    if commitment.member_id is not None:
        member = await session.get(LocalActor, commitment.member_id)
        if member is None:
            return Who("?", None)
        return Who(f"{member.name} (@{member.username})", f"/@{member.username}")
    actor = (
        await session.get(RemoteActor, commitment.remote_actor_id)
        if commitment.remote_actor_id is not None
        else None
    )
    if actor is None:
        return Who("?", None)
    # A group's Join for someone it does not name is keyed by that Join, not by the group.
    anonymous = commitment.person != actor.uri
    name = f"{actor.name} ({handle_of(actor)})" if actor.name else handle_of(actor)
    return Who(name, actor.uri, anonymous)


@dataclass(frozen=True)
class Attendee:
    who: Who
    state: str  # a message id
    channel: str  # a message id
    at: datetime


@dataclass(frozen=True)
class LinkAudit:
    who: Who
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    views: list[datetime]


@dataclass(frozen=True)
class Overview:
    """What the call's managers (its author, the group's moderators) see, and nobody else."""

    attendees: list[Attendee]
    escalations: list[Escalation]
    links: list[LinkAudit]
    member_views: list[tuple[str, datetime]]


async def overview(session: AsyncSession, item: Item) -> Overview:
    rows = list(
        await session.scalars(
            select(Commitment).where(Commitment.item_id == item.id).order_by(Commitment.id)
        )
    )
    people = {row.id: await who_is(session, row) for row in rows}
    attendees = [
        Attendee(
            people[row.id],
            STATE_LABELS.get(CommitmentState(row.state), row.state),
            CHANNEL_LABELS.get(Channel(row.channel), row.channel),
            row.updated_at,
        )
        for row in rows
    ]
    escalations = list(
        await session.scalars(
            select(Escalation).where(Escalation.item_id == item.id).order_by(Escalation.step)
        )
    )
    views = list(
        await session.scalars(
            select(EscrowView).where(EscrowView.item_id == item.id).order_by(EscrowView.id)
        )
    )
    links = [
        LinkAudit(
            people.get(link.commitment_id, Who("?", None)),
            link.created_at,
            link.expires_at,
            link.revoked_at,
            [view.viewed_at for view in views if view.link_id == link.id],
        )
        for link in await session.scalars(
            select(EscrowLink).where(EscrowLink.item_id == item.id).order_by(EscrowLink.id)
        )
    ]
    member_views = []
    for view in views:
        if view.member_id is not None:
            member = await session.get(LocalActor, view.member_id)
            name = f"{member.name} (@{member.username})" if member else "?"
            member_views.append((name, view.viewed_at))
    return Overview(attendees, escalations, links, member_views)
