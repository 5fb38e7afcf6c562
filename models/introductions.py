"""Introductions: a group asks the other side of a match whether they want to be put in touch.

"Introduce" sends one direct message from the item's group to whoever posted the candidate (its
group, or the person who posted it in her own name), naming the group's item (title and link)
and the candidate (title), and nothing else: never the member behind the item, its place, or
anything members-only. One per item and candidate, whoever clicks and however often.

Nothing more is sent until the other side answers: a reply to that message, or a reply to the
item itself (how "I can help" comes from another server), from the person written to. Then,
once, the group writes back whom to contact (the author's handle when she posted in her own
name, the group's when the item was posted as the group) and the author is alerted; the page
shows her the other side's handle. The answer still lands in the group's conversations or
responses, as any message does.

Only remote candidates can be introduced: nothing delivers a direct message between two actors
of this instance (the fan-out leaves our own host out).
"""

import enum
from datetime import datetime
from html import escape

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import alerts, messages
from models.actors import LocalActor
from models.alerts import AlertKind
from models.base import Base, UTCDateTime, utcnow
from models.content import RemoteObject
from models.follows import Direction, Follow, FollowState
from models.items import Item, ItemResponse
from models.matching import Candidate
from models.remote import RemoteActor
from models.texts import N_, translations
from models.uris import Uris


class State(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"  # kept for a "no" the group records; nothing reads a "no" from text


class Introduction(Base):
    __tablename__ = "introductions"
    __table_args__ = (UniqueConstraint("item_id", "candidate_uri"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    candidate_uri: Mapped[str] = mapped_column(String(2048))
    recipient_uri: Mapped[str] = mapped_column(String(2048), index=True)
    note_uri: Mapped[str] = mapped_column(String(2048), index=True)  # the DM asking
    contact_note_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    state: Mapped[str] = mapped_column(String(16), default=State.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class NotIntroduced(ValueError):
    """This candidate cannot be introduced (a local one, or an item that may not be named)."""


ASKING = {
    Kind.ASK: N_(
        "Hello from %(group)s. Our ask “%(title)s” (%(link)s) might be met by your offer "
        "“%(candidate)s”. Would you like us to put you in touch? If so, reply to this message, "
        "or answer our ask with “I can help”."
    ),
    Kind.OFFER: N_(
        "Hello from %(group)s. Our offer “%(title)s” (%(link)s) might meet your ask "
        "“%(candidate)s”. Would you like us to put you in touch? If so, reply to this message, "
        "or answer our offer with “I'm interested”."
    ),
}
CONTACT = N_("Thank you. About “%(title)s” (%(link)s), please write to %(contact)s.")


def _html(template: str, language: str, **values: str) -> str:
    text = translations(language).gettext(template)
    return f"<p>{text % {name: escape(value) for name, value in values.items()}}</p>"


async def _may_name(session: AsyncSession, item: Item, recipient: RemoteActor) -> bool:
    """Whether the recipient may read the item's title: a public item; a followers-only one
    if the recipient follows the group; a members-only one never."""
    if item.visibility == Visibility.PUBLIC:
        return True
    if item.visibility != Visibility.FOLLOWERS:
        return False
    follows = await session.scalar(
        select(Follow.id).where(
            Follow.local_actor_id == item.group_id,
            Follow.remote_actor_id == recipient.id,
            Follow.direction == Direction.INBOUND,
            Follow.state == FollowState.ACCEPTED,
        )
    )
    return follows is not None


async def may_introduce(session: AsyncSession, item: Item, candidate: Candidate) -> bool:
    if candidate.local or candidate.recipient_uri is None:
        return False
    recipient = await session.scalar(
        select(RemoteActor).where(RemoteActor.uri == candidate.recipient_uri)
    )
    if recipient is None or recipient.gone:
        return False
    return await _may_name(session, item, recipient)


async def of_item(session: AsyncSession, item: Item) -> dict[str, Introduction]:
    """The item's introductions, by candidate uri."""
    rows = await session.scalars(select(Introduction).where(Introduction.item_id == item.id))
    return {row.candidate_uri: row for row in rows}


async def introduce(
    session: AsyncSession, uris: Uris, item: Item, candidate: Candidate
) -> tuple[Introduction, bool]:
    """The introduction of `candidate` to the item's group, and whether it was sent now (False:
    it had been already; nothing is sent twice)."""
    found = await session.scalar(
        select(Introduction).where(
            Introduction.item_id == item.id, Introduction.candidate_uri == candidate.uri
        )
    )
    if found is not None:
        return found, False
    if not await may_introduce(session, item, candidate):
        raise NotIntroduced(f"{candidate.uri} cannot be introduced")
    group = await session.get_one(LocalActor, item.group_id)
    recipient = await session.scalar(
        select(RemoteActor).where(RemoteActor.uri == candidate.recipient_uri)
    )
    assert recipient is not None  # may_introduce
    row = Introduction(
        group_id=group.id,
        item_id=item.id,
        candidate_uri=candidate.uri,
        recipient_uri=recipient.uri,
        note_uri="",
    )
    try:
        async with session.begin_nested():  # a second click at the same moment: one row
            session.add(row)
            await session.flush()
    except IntegrityError:
        again = await session.scalar(
            select(Introduction).where(
                Introduction.item_id == item.id, Introduction.candidate_uri == candidate.uri
            )
        )
        assert again is not None
        return again, False
    content = _html(
        ASKING[Kind(item.kind)],
        group.language,
        group=group.name or f"@{group.username}",
        title=item.title,
        link=item.uri,
        candidate=candidate.title,
    )
    create = await messages.direct_message(session, uris, group, recipient, content)
    row.note_uri = create["object"]["id"]
    await session.flush()
    return row, True


def contact_of(uris: Uris, item: Item, group: LocalActor, author: LocalActor | None) -> str:
    """Whom the other side writes to: the author when she posted in her own name, else the
    group (a member behind an item posted as the group stays unnamed)."""
    if item.as_group or author is None:
        return f"@{group.username}@{uris.host}"
    return f"@{author.username}@{uris.host}"


async def answered(
    session: AsyncSession, uris: Uris, remote: RemoteActor, stored: RemoteObject
) -> list[Introduction]:
    """A message or reply just stored: the introductions it answers (from the person written
    to, replying to the introduction or to its item) are accepted, and the contact sent."""
    replied_items = select(ItemResponse.item_id).where(ItemResponse.remote_object_id == stored.id)
    answers: list[ColumnElement[bool]] = [Introduction.item_id.in_(replied_items)]
    if stored.in_reply_to_uri is not None:
        answers.append(Introduction.note_uri == stored.in_reply_to_uri)
    rows = list(
        await session.scalars(
            select(Introduction).where(
                Introduction.recipient_uri == remote.uri,
                Introduction.state == State.PENDING,
                or_(*answers),
            )
        )
    )
    for row in rows:
        await _accept(session, uris, row, remote, stored)
    return rows


async def _accept(
    session: AsyncSession,
    uris: Uris,
    row: Introduction,
    remote: RemoteActor,
    stored: RemoteObject,
) -> None:
    item = await session.get_one(Item, row.item_id)
    group = await session.get_one(LocalActor, row.group_id)
    row.state, row.answered_at = State.ACCEPTED, utcnow()
    if item.deleted_at is not None:
        await session.flush()
        return  # nothing left to put them in touch about
    author = None if item.as_group else await session.get(LocalActor, item.author_id)
    content = _html(
        CONTACT,
        group.language,
        title=item.title,
        link=item.uri,
        contact=contact_of(uris, item, group, author),
    )
    create = await messages.direct_message(
        session, uris, group, remote, content, in_reply_to=stored.uri
    )
    row.contact_note_uri = create["object"]["id"]
    if item.author_id == item.group_id:  # she left: the group's moderators answer for it
        await alerts.for_moderators(session, group, AlertKind.INTRODUCTION)
    else:
        await alerts.record(
            session, AlertKind.INTRODUCTION, [item.author_id], item_id=item.id, group_id=group.id
        )
    await session.flush()
