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

A candidate on this instance, in another group, takes the same road without a message (the
fan-out leaves our own host out, and none is needed): the row is addressed to its side here
(its group's actor for an item posted as the group, else its author's), its author (or, for an
item posted as the group, the group's moderators) gets an `introduction-asked` alert, and its
page asks them "Yes" or "No" (`questions`, `answer`). Yes: each side's page shows the other's
contact (`contact_of`, so a member behind an item posted as the group stays unnamed) and the
item's author gets the `introduction` alert, as for a remote yes; No: `declined`, and nothing is
exchanged. The item is introduced only if the other group already sees it (`models.board`, so a
members-only or followers-only item never is), and only to another group: a group's own
members answer its items directly.
"""

import enum
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import alerts, inbound, messages, notices
from models.actors import LocalActor
from models.alerts import AlertKind
from models.base import Base, UTCDateTime, utcnow
from models.board import shows_local
from models.content import RemoteObject
from models.follows import FollowState
from models.items import Item, ItemResponse
from models.matching import Candidate, open_to_matching
from models.remote import RemoteActor
from models.texts import N_, translations
from models.uris import Uris


class State(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"  # a local side's "No"; nothing reads a "no" from a remote message


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
    note_uri: Mapped[str] = mapped_column(String(2048), index=True)  # the DM asking ("": local)
    contact_note_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    state: Mapped[str] = mapped_column(String(16), default=State.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class NotIntroduced(ValueError):
    """This candidate cannot be introduced (its side may not see the item, or it is gone)."""


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
    group = await session.get_one(LocalActor, item.group_id)
    follow = await inbound.inbound_follow(session, group, recipient)
    return follow is not None and follow.state == FollowState.ACCEPTED


async def _local_side(session: AsyncSession, item: Item, candidate: Candidate) -> Item | None:
    """A local candidate's item, if the item may be introduced to it: another group's, still
    open, and that group already sees the item (the board's rule)."""
    other = await session.scalar(select(Item).where(Item.uri == candidate.uri))
    if other is None or other.group_id == item.group_id or not open_to_matching(other):
        return None
    side = await session.get_one(LocalActor, other.group_id)
    seen = await session.scalar(select(Item.id).where(Item.id == item.id, shows_local([side])))
    return other if seen is not None else None


async def may_introduce(session: AsyncSession, item: Item, candidate: Candidate) -> bool:
    if candidate.local:
        return await _local_side(session, item, candidate) is not None
    if candidate.recipient_uri is None:
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


async def _find(session: AsyncSession, item: Item, candidate: Candidate) -> Introduction | None:
    return await session.scalar(
        select(Introduction).where(
            Introduction.item_id == item.id, Introduction.candidate_uri == candidate.uri
        )
    )


async def introduce(
    session: AsyncSession, uris: Uris, item: Item, candidate: Candidate
) -> tuple[Introduction, bool]:
    """The introduction of `candidate` to the item's group, and whether it was made now (False:
    it had been already; nothing is sent or asked twice)."""
    found = await _find(session, item, candidate)
    if found is not None:
        return found, False
    if not await may_introduce(session, item, candidate):
        raise NotIntroduced(f"{candidate.uri} cannot be introduced")
    group = await session.get_one(LocalActor, item.group_id)
    other = await _local_side(session, item, candidate) if candidate.local else None
    row = Introduction(
        group_id=group.id,
        item_id=item.id,
        candidate_uri=candidate.uri,
        recipient_uri=(
            await side_uri(session, uris, other) if other else str(candidate.recipient_uri)
        ),
        note_uri="",
    )
    try:
        async with session.begin_nested():  # a second click at the same moment: one row
            session.add(row)
            await session.flush()
    except IntegrityError:
        again = await _find(session, item, candidate)
        assert again is not None
        return again, False
    if other is not None:  # no message: its page asks them
        await _alert(session, AlertKind.INTRODUCTION_ASKED, other, moderators=other.as_group)
        return row, True
    recipient = await session.scalar(
        select(RemoteActor).where(RemoteActor.uri == candidate.recipient_uri)
    )
    assert recipient is not None  # may_introduce
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


async def side_uri(session: AsyncSession, uris: Uris, item: Item) -> str:
    """To whom, on this instance, an introduction to a local item is addressed: the group for an
    item posted as the group (or whose author left), else its author."""
    owner = item.group_id if item.as_group else item.author_id
    return uris.actor((await session.get_one(LocalActor, owner)).username)


def contact_of(uris: Uris, item: Item, group: LocalActor, author: LocalActor | None) -> str:
    """Whom the other side writes to: the author when she posted in her own name, else the
    group (a member behind an item posted as the group stays unnamed)."""
    if item.as_group or author is None:
        return f"@{group.username}@{uris.host}"
    return f"@{author.username}@{uris.host}"


async def _contact(session: AsyncSession, uris: Uris, item: Item) -> str:
    """`contact_of` a local item."""
    group = await session.get_one(LocalActor, item.group_id)
    author = None if item.as_group else await session.get(LocalActor, item.author_id)
    return contact_of(uris, item, group, author)


async def contact(session: AsyncSession, uris: Uris, row: Introduction) -> str | None:
    """Once the other side said yes, whom the item's side writes to: the remote recipient's
    handle, or the local candidate's `contact_of`."""
    if row.state != State.ACCEPTED:
        return None
    remote = await session.scalar(select(RemoteActor).where(RemoteActor.uri == row.recipient_uri))
    if remote is not None:
        return messages.handle_of(remote)
    other = await session.scalar(select(Item).where(Item.uri == row.candidate_uri))
    return await _contact(session, uris, other) if other is not None else None


NOTICE_OF = {
    AlertKind.INTRODUCTION_ASKED: notices.NoticeKind.INTRODUCTION_ASKED,
    AlertKind.INTRODUCTION: notices.NoticeKind.INTRODUCTION,
}


async def _alert(session: AsyncSession, kind: AlertKind, item: Item, *, moderators: bool) -> None:
    """Tell the item's author, or its group's moderators (an item posted as the group, when they
    answer for it; or one whose author left): by e-mail or push as they chose, and on their
    notifications page."""
    if moderators or item.author_id == item.group_id:
        group = await session.get_one(LocalActor, item.group_id)
        await alerts.for_moderators(session, group, kind, item_id=item.id)
        told = await alerts.moderators_of(session, group)
    else:
        await alerts.record(
            session, kind, [item.author_id], item_id=item.id, group_id=item.group_id
        )
        told = [item.author_id]
    await notices.notify(session, told, NOTICE_OF[kind], item_id=item.id)


@dataclass(frozen=True)
class Question:
    """An introduction to a local item, as its side sees it on the item's page."""

    id: int
    uri: str  # of the item introduced to it
    kind: str
    title: str
    link: str
    group: str
    state: str
    contact: str | None  # once they said yes: whom to write to


async def questions(session: AsyncSession, uris: Uris, item: Item) -> list[Question]:
    """The introductions addressed to this local item whose items its group may still see:
    pending ones while those items are open, answered ones while they are not deleted."""
    side = await session.get_one(LocalActor, item.group_id)
    rows = await session.execute(
        select(Introduction, Item, LocalActor)
        .join(Item, Item.id == Introduction.item_id)
        .join(LocalActor, LocalActor.id == Introduction.group_id)
        .where(
            Introduction.recipient_uri == await side_uri(session, uris, item),
            Introduction.candidate_uri == item.uri,
            Item.deleted_at.is_(None),
            shows_local([side]),
        )
        .order_by(Introduction.id)
    )
    return [
        Question(
            row.id,
            theirs.uri,
            theirs.kind,
            theirs.title,
            f"/items/{theirs.uuid}",
            group.name or f"@{group.username}",
            row.state,
            await _contact(session, uris, theirs) if row.state == State.ACCEPTED else None,
        )
        for row, theirs, group in rows.all()
        if row.state != State.PENDING or open_to_matching(theirs)
    ]


async def answer(
    session: AsyncSession, uris: Uris, item: Item, introduction_id: int, yes: bool
) -> bool | None:
    """The local item's side answers one of its `questions`: None if it is not one of them,
    False if it was answered already (a second answer changes nothing), True if answered now.
    Yes tells the item's author, as a remote yes does."""
    asked = {question.id: question for question in await questions(session, uris, item)}
    if introduction_id not in asked:
        return None
    moved = await session.execute(  # two answers at once: one wins
        update(Introduction)
        .where(Introduction.id == introduction_id, Introduction.state == State.PENDING)
        .values(state=State.ACCEPTED if yes else State.DECLINED, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if yes:
        row = await session.get_one(Introduction, introduction_id)
        theirs = await session.get_one(Item, row.item_id)
        await _alert(session, AlertKind.INTRODUCTION, theirs, moderators=False)
    return True


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
    content = _html(
        CONTACT,
        group.language,
        title=item.title,
        link=item.uri,
        contact=await _contact(session, uris, item),
    )
    create = await messages.direct_message(
        session, uris, group, remote, content, in_reply_to=stored.uri
    )
    row.contact_note_uri = create["object"]["id"]
    await _alert(session, AlertKind.INTRODUCTION, item, moderators=False)
    await session.flush()
