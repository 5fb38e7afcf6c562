"""Conversations: direct messages to a group that are about none of its items, and the group's
answers. One conversation per remote person and group, its messages in the order they came or
went, read and answered by the group's moderators (and admins) on the group's pages.

A message received is its `RemoteObject` (kind private, sanitised when stored), so a `Delete`
from its author removes it here too; an answer is the `Activity` we published, so its text lives
in one place. Answers go from the group, never from the member who writes them: a `Note` with a
`Mention` (what Mastodon, GoToSocial and Lemmy 0.20+ take as a private message), or a
`ChatMessage` to someone who wrote one (Pleroma and Akkoma chats, Lemmy before 0.20): `to` one
actor in both the activity and the object, as both check, with the HTML in `content` and the
Markdown in `source`.

Forgotten on the schedule of private responses (`models.retention`): a conversation quiet for
longer than its group's `retention_days` goes, once a moderator has seen its last message.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import ForeignKey, String, UniqueConstraint, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from federation import vocab
from federation.markdown import render_markdown
from federation.visibility import Visibility
from models import alerts, messages
from models.actors import LocalActor, Membership, Role
from models.alerts import AlertKind
from models.base import Base, UTCDateTime, utcnow
from models.content import RemoteObject
from models.posting import check_texts
from models.publish import publish
from models.queue import Activity
from models.remote import RemoteActor
from models.uris import Uris

NOTE, CHAT = "Note", "ChatMessage"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("group_id", "remote_actor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    answer_type: Mapped[str] = mapped_column(String(16), default=NOTE)  # how to answer: NOTE, CHAT
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ConversationMessage(Base):
    """One message: received (`remote_object_id`) or sent (`activity_id`, and who wrote it)."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    remote_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_objects.id", ondelete="CASCADE"), unique=True, default=None
    )
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), default=None
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def unread(conversation: Conversation) -> bool:
    return conversation.read_at is None or conversation.read_at < conversation.last_received_at


async def receive(
    session: AsyncSession, group: LocalActor, remote: RemoteActor, stored: RemoteObject
) -> Conversation:
    """A message for the group: into its conversation with the sender (made on the first one),
    and its moderators alerted (never with the text or the sender)."""
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.group_id == group.id, Conversation.remote_actor_id == remote.id
        )
    )
    now = utcnow()
    if conversation is None:
        conversation = Conversation(
            group_id=group.id, remote_actor_id=remote.id, last_message_at=now
        )
        session.add(conversation)
    # The latest message says how to answer: someone who moves from chat to DMs gets DMs.
    conversation.answer_type = CHAT if stored.type == CHAT else NOTE
    conversation.last_message_at = conversation.last_received_at = now
    await session.flush()
    session.add(ConversationMessage(conversation_id=conversation.id, remote_object_id=stored.id))
    await session.flush()
    await alerts.for_moderators(session, group, AlertKind.MESSAGE)
    return conversation


async def answer(
    session: AsyncSession,
    uris: Uris,
    conversation: Conversation,
    by: LocalActor,
    text_markdown: str,
    *,
    confirm: bool = False,
) -> ConversationMessage:
    """The group's answer, written by a moderator: a direct message to the person alone. It
    leaves the instance, so personal data in it needs `confirm` (`posting.PersonalData`)."""
    if not text_markdown.strip():
        raise ValueError("an answer says something")
    group = await session.get_one(LocalActor, conversation.group_id)
    if not confirm:
        check_texts([text_markdown], group.region)
    recipient = await session.get_one(RemoteActor, conversation.remote_actor_id)
    content = render_markdown(text_markdown)
    last = await session.scalar(
        select(RemoteObject)
        .join(ConversationMessage, ConversationMessage.remote_object_id == RemoteObject.id)
        .where(ConversationMessage.conversation_id == conversation.id)
        .order_by(ConversationMessage.id.desc())
        .limit(1)
    )
    # Whom they wrote to answers: the group, or its companion Service (Lemmy writes to nothing
    # else, and takes private messages from nothing else).
    service = uris.service(uris.actor(group.username))
    written_to = vocab.ids_of(last.document.get("to")) if last is not None else []
    speaker = service if service in written_to else None
    if conversation.answer_type == CHAT:
        create = await _chat_message(
            session, uris, group, recipient, content, text_markdown, speaker
        )
    else:
        create = await messages.direct_message(
            session,
            uris,
            group,
            recipient,
            content,
            in_reply_to=last.uri if last is not None else None,
            speaker=speaker,
        )
    activity_id = await session.scalar(select(Activity.id).where(Activity.uri == create["id"]))
    now = utcnow()
    message = ConversationMessage(
        conversation_id=conversation.id, activity_id=activity_id, member_id=by.id, created_at=now
    )
    session.add(message)
    conversation.last_message_at = now
    conversation.read_at = max(now, conversation.read_at or now)
    await session.flush()
    return message


async def _chat_message(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    recipient: RemoteActor,
    content_html: str,
    source: str,
    speaker: str | None = None,
) -> dict[str, Any]:
    """Create{ChatMessage} from the group (or its Service: `messages.direct_message`) to the
    recipient alone: Pleroma wants the activity's `to` equal to the object's and `published`;
    Lemmy wants one `to`, `mediaType`, `source`."""
    group_uri = speaker or uris.actor(group.username)
    chat = {
        "id": uris.object(uuid4().hex),
        "type": CHAT,
        "attributedTo": group_uri,
        "to": [recipient.uri],
        "published": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content": content_html,
        "mediaType": "text/html",
        "source": {"content": source, "mediaType": "text/markdown"},
    }
    create = {
        "@context": [vocab.AS_CONTEXT, {"ChatMessage": "http://litepub.social/ns#ChatMessage"}],
        "id": uris.activity(uuid4().hex),
        "type": "Create",
        "actor": group_uri,
        "to": [recipient.uri],
        "object": chat,
    }
    await publish(session, group, create, Visibility.DIRECT, to_actors=[recipient.uri])
    return create


@dataclass(frozen=True)
class Shown:
    """A message as the moderators' page shows it."""

    received: bool
    content_html: str
    at: datetime
    by: str  # who answered (the member's name), "" for a received message


async def history(session: AsyncSession, conversation: Conversation) -> list[Shown]:
    rows = await session.execute(
        select(ConversationMessage, RemoteObject, Activity, LocalActor.name, LocalActor.username)
        .outerjoin(RemoteObject, RemoteObject.id == ConversationMessage.remote_object_id)
        .outerjoin(Activity, Activity.id == ConversationMessage.activity_id)
        .outerjoin(LocalActor, LocalActor.id == ConversationMessage.member_id)
        .where(ConversationMessage.conversation_id == conversation.id)
        .order_by(ConversationMessage.created_at, ConversationMessage.id)
    )
    shown = []
    for message, received, sent, name, username in rows.all():
        if received is not None:
            shown.append(Shown(True, received.content_html, received.published_at, ""))
        elif sent is not None and isinstance(note := sent.document.get("object"), dict):
            who = name or username or ""
            shown.append(Shown(False, str(note.get("content") or ""), message.created_at, who))
    return shown


async def of_group(session: AsyncSession, group: LocalActor) -> list[Conversation]:
    return list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.group_id == group.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        )
    )


def _moderated_by(member: LocalActor) -> Any:
    """The groups she reads conversations of: those she moderates or runs (and, for an
    instance admin, those with nobody to, as `alerts.for_moderators` tells them)."""
    roles = (Membership.role.in_([Role.ADMIN, Role.MODERATOR]),)
    mine = select(Membership.group_id).where(Membership.member_id == member.id, *roles)
    if not member.is_admin:
        return Conversation.group_id.in_(mine)
    with_moderators = select(Membership.group_id).where(*roles)
    return or_(Conversation.group_id.in_(mine), Conversation.group_id.not_in(with_moderators))


async def waiting(session: AsyncSession, member: LocalActor) -> list[tuple[LocalActor, int]]:
    """Her groups with conversations whose last message no moderator has opened yet, and how
    many each has."""
    rows = await session.execute(
        select(LocalActor, func.count(Conversation.id))
        .join(Conversation, Conversation.group_id == LocalActor.id)
        .where(
            _moderated_by(member),
            or_(
                Conversation.read_at.is_(None),
                Conversation.read_at < Conversation.last_received_at,
            ),
        )
        .group_by(LocalActor.id)
        .order_by(LocalActor.username)
    )
    return [(group, int(count)) for group, count in rows.all()]


async def forget(session: AsyncSession, uris: Uris, conversation: Conversation) -> None:
    """The conversation goes: the messages received, and the text of our answers (the activity
    rows stay as stubs, for the delivery bookkeeping); the person is asked to delete our
    answers, as retention asks of everything we sent."""
    group = await session.get_one(LocalActor, conversation.group_id)
    recipient = await session.get_one(RemoteActor, conversation.remote_actor_id)
    rows = list(
        await session.scalars(
            select(ConversationMessage).where(
                ConversationMessage.conversation_id == conversation.id
            )
        )
    )
    for row in rows:
        if row.remote_object_id is not None:
            received = await session.get(RemoteObject, row.remote_object_id)
            if received is not None:
                await session.delete(received)
        if row.activity_id is not None:
            sent = await session.get(Activity, row.activity_id)
            if sent is not None:
                note_uri = vocab.id_of(sent.document.get("object"))
                sent.document = {
                    "@context": vocab.AS_CONTEXT,
                    "id": sent.document.get("id"),
                    "type": sent.document.get("type"),
                    "actor": sent.document.get("actor"),
                    "object": note_uri,
                }
                if note_uri is not None and not recipient.gone:
                    speaker = vocab.id_of(sent.document.get("actor"))
                    await messages.delete_message(
                        session, uris, group, recipient.uri, note_uri, speaker=speaker
                    )
    await session.delete(conversation)
    await session.flush()
