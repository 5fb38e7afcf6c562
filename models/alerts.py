"""Alerts: what is told to a member outside the site (e-mail, Web Push), by her own switches.

Her `AlertSettings` (a member without a row has the defaults): urgent calls of her groups at
once, even in her quiet hours; responses to her items at once, in the digest, or never (private
answers to her own responses follow that switch, told at once or not at all); the digest of new
asks, offers and calls (her groups' and her network board's) daily, weekly or never; for
moderators, follow requests, held submissions and reports. Quiet hours are minutes of
the day in her time zone: what comes in them waits for their end, except urgent calls.

What happens is `record`ed (an `Alert` row) in the transaction that made it happen, so an alert
exists exactly when its cause does; the worker in `outbox/alerts.py` turns it into messages
(`compose`). Messages hold the least that works: the kind of thing, an item's title and a link.
Never a place, a requester's or responder's name, or what a message said: the link leads to
the page, where the member signs in to read it.
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from sqlalchemy import Boolean, ForeignKey, Integer, String, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from federation.itemterms import CLOSED, Kind
from models import mail
from models.actors import ActorType, LocalActor, Membership, Role
from models.base import Base, UTCDateTime, utcnow
from models.calls import Commitment
from models.follows import Direction, Follow, FollowState
from models.items import Item, ItemResponse, RemoteItem, ResponseKind
from models.mail import Link, Paragraph
from models.queue import Alert
from models.settings import Settings
from models.texts import N_, translations


class Responses(enum.StrEnum):
    NOW = "now"
    DIGEST = "digest"
    OFF = "off"


class Digest(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    OFF = "off"


PERIODS = {Digest.DAILY: timedelta(days=1), Digest.WEEKLY: timedelta(days=7)}


class AlertKind(enum.StrEnum):
    CALL = "call"  # a new urgent call of her group
    CALL_SHORT = "call-short"  # a call of her group still short of people as it nears
    RESPONSE = "response"  # a response to her item: help, a reply, a message, a commitment
    FOLLOW_REQUEST = "follow-request"  # moderators: someone asks to follow the group
    SUBMISSION = "submission"  # moderators: a post submitted to the group waits for review
    REPORT = "report"  # moderators: a report about the group's content
    MESSAGE = "message"  # moderators: a direct message to the group, about none of its items
    ANSWER = "answer"  # the author or a moderator answered her response privately
    INTRODUCTION = "introduction"  # the other side of a match said yes to being put in touch
    INTRODUCTION_ASKED = "introduction-asked"  # a group here asks whether to put her in touch


URGENT = frozenset({AlertKind.CALL, AlertKind.CALL_SHORT})
MODERATION = frozenset(
    {AlertKind.FOLLOW_REQUEST, AlertKind.SUBMISSION, AlertKind.REPORT, AlertKind.MESSAGE}
)


class AlertSettings(Base):
    __tablename__ = "alert_settings"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), primary_key=True
    )
    urgent_calls: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    responses: Mapped[str] = mapped_column(String(8), default=Responses.NOW, server_default="now")
    digest: Mapped[str] = mapped_column(String(8), default=Digest.WEEKLY, server_default="weekly")
    moderation: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Quiet hours, minutes after midnight in `timezone`; both None: none.
    quiet_from: Mapped[int | None] = mapped_column(Integer, default=None)
    quiet_until: Mapped[int | None] = mapped_column(Integer, default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The last digest's cut: the next one tells what came after it.
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    def wants(self, kind: AlertKind | str) -> bool:
        """Whether this kind is told at once (a response for the digest waits for it)."""
        if kind in URGENT:
            return self.urgent_calls
        if kind in MODERATION:
            return self.moderation
        return self.responses == Responses.NOW

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def quiet_end(self, now: datetime) -> datetime | None:
        """When her quiet hours end, if `now` is in them; else None."""
        if (
            self.quiet_from is None
            or self.quiet_until is None
            or self.quiet_from == self.quiet_until
        ):
            return None
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        start, end = self.quiet_from, self.quiet_until
        quiet = start <= minute < end if start < end else minute >= start or minute < end
        if not quiet:
            return None
        day = local.date() if minute < end else local.date() + timedelta(days=1)
        wake = datetime.combine(day, time(end // 60, end % 60), tzinfo=self.zone)
        return wake.astimezone(now.tzinfo)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def defaults(member_id: int) -> AlertSettings:
    return AlertSettings(
        member_id=member_id,
        urgent_calls=True,
        responses=Responses.NOW,
        digest=Digest.WEEKLY,
        moderation=True,
        quiet_from=None,
        quiet_until=None,
        timezone="UTC",
        digest_sent_at=None,
    )


async def settings_of(session: AsyncSession, member_id: int) -> AlertSettings:
    """Her switches: her row, or the defaults (not added to the session)."""
    return await session.get(AlertSettings, member_id) or defaults(member_id)


async def save(session: AsyncSession, switches: AlertSettings) -> AlertSettings:
    """Store her switches (a row is made the first time); `timezone` must name a zone."""
    if switches.timezone != zone(switches.timezone).key:
        raise ValueError(f"{switches.timezone!r} is not a time zone")
    Responses(switches.responses), Digest(switches.digest)
    return await session.merge(switches)


async def record(
    session: AsyncSession,
    kind: AlertKind,
    member_ids: Iterable[int],
    *,
    item_id: int | None = None,
    group_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Alert these members (each once), in the caller's transaction."""
    rows = [
        Alert(
            member_id=member_id,
            kind=kind,
            item_id=item_id,
            group_id=group_id,
            next_attempt_at=now or utcnow(),
            created_at=now or utcnow(),
        )
        for member_id in dict.fromkeys(member_ids)
    ]
    session.add_all(rows)
    await session.flush()
    return len(rows)


async def group_members(session: AsyncSession, group_id: int, but: Iterable[int] = ()) -> list[int]:
    return list(
        await session.scalars(
            select(Membership.member_id)
            .where(Membership.group_id == group_id, Membership.member_id.not_in(list(but)))
            .order_by(Membership.id)
        )
    )


async def new_call(session: AsyncSession, item: Item) -> int:
    """A new call: every member of its group but its poster, if it is urgent."""
    if item.kind != Kind.CALL or not item.urgent:
        return 0
    members = await group_members(session, item.group_id, but=[item.author_id])
    return await record(session, AlertKind.CALL, members, item_id=item.id, group_id=item.group_id)


async def response(session: AsyncSession, item: Item, responder_id: int | None = None) -> int:
    """A response to an item: its author, unless she made it herself."""
    if responder_id == item.author_id:
        return 0
    return await record(
        session, AlertKind.RESPONSE, [item.author_id], item_id=item.id, group_id=item.group_id
    )


async def moderators_of(session: AsyncSession, group: LocalActor) -> list[int]:
    """Who answers for a group: its admins and moderators, or the instance's admins."""
    return list(
        await session.scalars(
            select(Membership.member_id).where(
                Membership.group_id == group.id,
                Membership.role.in_([Role.ADMIN, Role.MODERATOR]),
            )
        )
    ) or list(await session.scalars(select(LocalActor.id).where(LocalActor.is_admin)))


async def for_moderators(
    session: AsyncSession, group: LocalActor, kind: AlertKind, *, item_id: int | None = None
) -> int:
    """A follow request, submission, report or message (or news about one of the group's items):
    the group's admins and moderators (or, for a group with none, the instance's admins). One
    alert waiting per moderator (and item) is enough: a second one before it is sent would say
    the same."""
    moderators = await moderators_of(session, group)
    waiting_query = select(Alert.member_id).where(Alert.kind == kind, Alert.group_id == group.id)
    if item_id is not None:
        waiting_query = waiting_query.where(Alert.item_id == item_id)
    waiting = set(await session.scalars(waiting_query))
    return await record(
        session,
        kind,
        [m for m in moderators if m not in waiting],
        item_id=item_id,
        group_id=group.id,
    )


async def reported(session: AsyncSession, local: LocalActor, targets: list[str]) -> int:
    """A report received: the moderators of the groups it concerns (the group it was sent to, the
    groups of the items it names), as their moderation pages list it; the instance's admins for
    a report about a member alone."""
    groups = set(await session.scalars(select(Item.group_id).where(Item.uri.in_(targets))))
    if local.type == ActorType.GROUP:
        groups.add(local.id)
    told = 0
    for group_id in sorted(groups) or [local.id]:
        group = await session.get_one(LocalActor, group_id)
        told += await for_moderators(session, group, AlertKind.REPORT)
    return told


@dataclass(frozen=True)
class Message:
    """One alert as sent: an e-mail's subject and paragraphs, and the push notification."""

    subject: str
    paragraphs: list[Paragraph]
    push: dict[str, str]
    urgent: bool


SUBJECTS = {
    AlertKind.CALL: N_("Solidarity call in %(group)s: %(title)s"),
    AlertKind.CALL_SHORT: N_("Still short of people: %(title)s"),
    AlertKind.RESPONSE: N_("New response to “%(title)s”"),
    AlertKind.FOLLOW_REQUEST: N_("%(group)s has a follow request to answer"),
    AlertKind.SUBMISSION: N_("A post submitted to %(group)s waits for review"),
    AlertKind.REPORT: N_("A new report for %(group)s to look at"),
    AlertKind.MESSAGE: N_("A new message for %(group)s"),
    AlertKind.ANSWER: N_("An answer to your response to “%(title)s”"),
    AlertKind.INTRODUCTION: N_("Someone would like to be put in touch about “%(title)s”"),
    AlertKind.INTRODUCTION_ASKED: N_("Would you like to be put in touch about “%(title)s”?"),
}
BODIES = {
    AlertKind.CALL: N_("%(group)s has a new solidarity call."),
    AlertKind.CALL_SHORT: N_("This call of %(group)s still needs people."),
    AlertKind.RESPONSE: N_("Someone responded to your post in %(group)s."),
    AlertKind.FOLLOW_REQUEST: N_("Someone asks to follow %(group)s."),
    AlertKind.SUBMISSION: N_("Someone submitted a post to %(group)s."),
    AlertKind.REPORT: N_("Someone sent %(group)s a report."),
    AlertKind.MESSAGE: N_("Someone wrote to %(group)s."),
    AlertKind.ANSWER: N_("Your response to a post in %(group)s has a private answer."),
    AlertKind.INTRODUCTION: N_(
        "The other side of a match with your post in %(group)s would like to be put in touch."
    ),
    AlertKind.INTRODUCTION_ASKED: N_(
        "Another group here thinks your post in %(group)s might meet one of theirs, and asks "
        "whether you would like to be put in touch. Answer on the page."
    ),
}
OPEN_PAGE = N_("Open the page to see it (you may need to sign in):")
STARTS = N_("Starts: %(when)s")


async def compose(
    session: AsyncSession, settings: Settings, alert: Alert, member: LocalActor
) -> Message | None:
    """The message for this alert in her language, or None when there is nothing left to say
    (the item was deleted or closed, the group is gone)."""
    kind = AlertKind(alert.kind)
    item = await session.get(Item, alert.item_id) if alert.item_id is not None else None
    group = await session.get(LocalActor, alert.group_id) if alert.group_id is not None else None
    if alert.item_id is not None and (
        item is None
        or item.deleted_at is not None
        # An answer to her response is news even once the item is over.
        or (item.status in CLOSED and kind != AlertKind.ANSWER)
    ):
        return None
    if group is None:
        return None
    gettext = translations(member.language).gettext
    names = {"group": group.name or f"@{group.username}", "title": item.title if item else ""}
    if item is not None:
        link = f"{settings.base_url}/items/{item.uuid}"
    elif group.type != ActorType.GROUP:  # a report about a member alone: the admins' pages
        link = f"{settings.base_url}/admin"
    elif kind == AlertKind.MESSAGE:
        link = f"{settings.base_url}/groups/{group.username}/conversations"
    else:
        link = f"{settings.base_url}/groups/{group.username}/moderation"
    body = gettext(BODIES[kind]) % names
    paragraphs: list[Paragraph] = [body]
    if item is not None:
        paragraphs.append(item.title)
        if item.kind == Kind.CALL and item.starts_at is not None:
            when = when_text(item.starts_at, member, (await settings_of(session, member.id)).zone)
            paragraphs.append(gettext(STARTS) % {"when": when})
    paragraphs += [gettext(OPEN_PAGE), Link(link)]
    subject = gettext(SUBJECTS[kind]) % names
    push = {
        "title": subject,
        "body": body,
        "url": link,
        "tag": f"{kind}:{alert.item_id or group.id}",
    }
    return Message(subject, paragraphs, push, kind in URGENT)


def when_text(at: datetime, member: LocalActor, tz: ZoneInfo) -> str:
    return (
        f"{format_datetime(at, 'EEEE d MMMM, HH:mm', tzinfo=tz, locale=member.language)} ({tz.key})"
    )


DIGEST_SUBJECTS = {
    Digest.DAILY: N_("Your daily digest from %(host)s"),
    Digest.WEEKLY: N_("Your weekly digest from %(host)s"),
}
IN_GROUPS = N_("New in your groups:")
ON_BOARD = N_("New on your network board:")
RESPONDED = N_("New responses to your posts:")
MORE = N_("…and %(count)d more on the site.")
KIND_NAMES = {Kind.ASK: N_("Ask"), Kind.OFFER: N_("Offer"), Kind.CALL: N_("Call")}
LISTED = 15  # per section; the rest are counted


async def digests_due(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> int:
    """Send each digest that is due (e-mail only): what is new since her last one. A member seen
    for the first time starts her period now. Two workers never send one twice: the cut moves
    by a conditional UPDATE, and only the worker that moved it sends."""
    if not settings.mail_enabled:
        return 0
    now = now or utcnow()
    rows = await session.execute(
        select(LocalActor, AlertSettings)
        .join(mail.MemberEmail, mail.MemberEmail.member_id == LocalActor.id)
        .outerjoin(AlertSettings, AlertSettings.member_id == LocalActor.id)
        .where(
            mail.MemberEmail.confirmed_at.is_not(None), mail.MemberEmail.unsubscribed_at.is_(None)
        )
    )
    sent = 0
    for member, switches in rows.all():
        if switches is None or switches.digest_sent_at is None:
            await _start_period(session, member.id, now)
            continue
        if switches.digest == Digest.OFF:
            continue
        cut = switches.digest_sent_at
        if now - cut < PERIODS[Digest(switches.digest)]:
            continue
        moved = await session.execute(
            update(AlertSettings)
            .where(AlertSettings.member_id == member.id, AlertSettings.digest_sent_at == cut)
            .values(digest_sent_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker took it
        paragraphs = await digest(session, settings, member, switches, cut, now)
        if not paragraphs:
            continue
        subject = translations(member.language).gettext(DIGEST_SUBJECTS[Digest(switches.digest)])
        queued = await mail.notify(
            session,
            settings,
            member,
            subject % {"host": settings.host},
            paragraphs,
            lang=member.language,
            not_before=switches.quiet_end(now),
        )
        sent += queued is not None
    return sent


async def _start_period(session: AsyncSession, member_id: int, now: datetime) -> None:
    row = await session.get(AlertSettings, member_id)
    if row is not None:
        row.digest_sent_at = now
        return
    try:
        async with session.begin_nested():
            session.add(AlertSettings(**{**_columns(defaults(member_id)), "digest_sent_at": now}))
    except IntegrityError:
        pass  # another worker made it first


def _columns(row: AlertSettings) -> dict[str, object]:
    return {column.key: getattr(row, column.key) for column in AlertSettings.__table__.columns}


async def digest(
    session: AsyncSession,
    settings: Settings,
    member: LocalActor,
    switches: AlertSettings,
    since: datetime,
    until: datetime,
) -> list[Paragraph]:
    """What her digest says: new items in her groups and on her board, and (if she asked for
    them there) responses to her posts. Titles and links only. Empty: nothing to send."""
    gettext = translations(member.language).gettext
    groups = list(
        await session.scalars(select(Membership.group_id).where(Membership.member_id == member.id))
    )
    local = list(
        await session.scalars(
            select(Item)
            .where(
                Item.group_id.in_(groups),
                Item.author_id != member.id,
                Item.created_at > since,
                Item.created_at <= until,
                Item.deleted_at.is_(None),
                Item.status.not_in([str(s) for s in CLOSED]),
            )
            .order_by(Item.created_at.desc(), Item.id.desc())
        )
    )
    followed = select(Follow.remote_actor_id).where(
        Follow.local_actor_id.in_(groups),
        Follow.direction == Direction.OUTBOUND,
        Follow.state == FollowState.ACCEPTED,
    )
    remote = list(
        await session.scalars(
            select(RemoteItem)
            .where(
                RemoteItem.remote_actor_id.in_(followed),
                RemoteItem.received_at > since,
                RemoteItem.received_at <= until,
                RemoteItem.status.not_in([str(s) for s in CLOSED]),
            )
            .order_by(RemoteItem.received_at.desc(), RemoteItem.id.desc())
        )
    )
    paragraphs: list[Paragraph] = []

    def section(heading: str, entries: list[tuple[str, str]]) -> None:
        if not entries:
            return
        paragraphs.append(gettext(heading))
        for text, link in entries[:LISTED]:
            paragraphs.extend([text, Link(link)])
        if len(entries) > LISTED:
            paragraphs.append(gettext(MORE) % {"count": len(entries) - LISTED})

    def kind(value: str) -> str:
        return gettext(KIND_NAMES[Kind(value)]) if value in KIND_NAMES else ""

    section(
        IN_GROUPS,
        [(f"{kind(i.kind)}: {i.title}", f"{settings.base_url}/items/{i.uuid}") for i in local],
    )
    section(
        ON_BOARD,
        [
            (f"{kind(r.kind)}: {r.title}", r.url or r.uri)
            for r in remote
            if (r.url or r.uri).startswith(("https://", "http://"))
        ],
    )
    if switches.responses == Responses.DIGEST:
        section(RESPONDED, await _responded(session, settings, member, since, until))
    return paragraphs


async def _responded(
    session: AsyncSession, settings: Settings, member: LocalActor, since: datetime, until: datetime
) -> list[tuple[str, str]]:
    """Her items with responses (or answers to her calls) in the period, with how many."""
    mine = (Item.author_id == member.id, Item.deleted_at.is_(None))
    responses = await session.execute(
        select(Item, func.count())
        .join(ItemResponse, ItemResponse.item_id == Item.id)
        .where(
            *mine,
            ItemResponse.created_at > since,
            ItemResponse.created_at <= until,
            ItemResponse.kind != ResponseKind.COMING,  # counted with the commitments
            or_(ItemResponse.member_id.is_(None), ItemResponse.member_id != member.id),
        )
        .group_by(Item.id)
    )
    answers = await session.execute(
        select(Item, func.count())
        .join(Commitment, Commitment.item_id == Item.id)
        .where(
            *mine,
            Commitment.updated_at > since,
            Commitment.updated_at <= until,
            or_(Commitment.member_id.is_(None), Commitment.member_id != member.id),
        )
        .group_by(Item.id)
    )
    counted: dict[int, tuple[Item, int]] = {}
    for item, count in [*responses.all(), *answers.all()]:
        counted[item.id] = (item, counted.get(item.id, (item, 0))[1] + count)
    ngettext = translations(member.language).ngettext
    return [
        (
            ngettext("%(title)s: %(count)d new response", "%(title)s: %(count)d new responses", n)
            % {"title": item.title, "count": n},
            f"{settings.base_url}/items/{item.uuid}",
        )
        for item, n in counted.values()
    ]
