"""Posting, editing, closing, deleting and answering items, and publishing what changed.

A group-authored item goes out as the group's `Create`; a member's as the member's `Create` plus
the group's `Announce` of the object (FEP-1b12), so the group's followers see it. Updates and
Deletes come from the author (Mastodon accepts them from no one else) and also reach the group's
followers. The group also passes each Create, Update and Delete on as an Announce of the
activity (`publish.pass_on`), the form Lemmy and Mbin read. Members-only items are stored and
never published.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation import items as wire
from federation import vocab
from federation.itemterms import CLOSED, STATUSES, Kind, Status
from federation.markdown import render_markdown
from federation.places import Place
from federation.privacy import findings
from federation.visibility import ITEM_VISIBILITIES, Visibility
from models import alerts, escrow, intake, items, messages, notices, overflow
from models.actors import ActorType, LocalActor, Role, role_in
from models.alerts import AlertKind
from models.base import utcnow
from models.content import RemoteObject
from models.escrow import Seal
from models.items import Answer, Item, ItemResponse, ResponseKind
from models.notices import NoticeKind
from models.publish import pass_on, publish
from models.queue import Activity
from models.remote import RemoteActor
from models.uris import Uris

MAX_TITLE = 200


class PersonalData(ValueError):
    """Text that looks like a phone number, an e-mail or a street address, about to go out."""

    def __init__(self, found: list[str]) -> None:
        self.found = found
        super().__init__(
            "this looks like personal data, which would be federated: "
            + "; ".join(found)
            + " (remove it, or confirm that it may be published)"
        )


class NotAllowed(PermissionError):
    pass


@dataclass(frozen=True)
class Draft:
    """What a member fills in. `place` may hold an exact point: it is coarsened before storage."""

    kind: Kind
    title: str
    body_markdown: str = ""
    category: str = "other"
    visibility: Visibility = Visibility.PUBLIC
    as_group: bool = False
    quantity: int | None = None
    place: Place | None = None
    needed_by: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str = "UTC"
    # Calls: the exact place, sealed and revealed only to those who come (`models.escrow`).
    # None keeps what is stored; "" removes it.
    meeting_point: str | None = None
    people_wanted: int | None = None
    capacity: int | None = None
    ally_relay: bool = True
    # Calls: members are told at once, even in their quiet hours (`models.alerts`).
    urgent: bool = True
    reveal_before: timedelta | None = None
    reveal_inline: bool = False
    # Intake: who a moderator posts it for, sealed for the group's moderators (`models.intake`).
    # None keeps what is stored. Such an item is always posted as the group.
    requester: intake.Requester | None = None
    # Asks and offers: go to the group's allies when still open this long after posting (None:
    # never), as far as `overflow_hops` (`models.overflow`). Public items only.
    overflow_after: timedelta | None = None
    overflow_hops: int = 1

    def __post_init__(self) -> None:
        if self.visibility not in ITEM_VISIBILITIES:
            raise ValueError("an item is public, followers-only or members-only")


def check_personal_data(draft: Draft, region: str | None = None) -> None:
    """`region` is the group's country, how phone numbers without a country code are read."""
    # Not the meeting point nor the requester: they are sealed, and exist to hold such things.
    check_texts([draft.title, draft.body_markdown, draft.place.name if draft.place else ""], region)


def check_texts(texts: list[str], region: str | None = None) -> None:
    found = [f"{f.kind.value} {f.text!r}" for text in texts for f in findings(text, region)]
    if found:
        raise PersonalData(found)


def _apply(item: Item, draft: Draft, category_id: int) -> None:
    point = draft.place.point if draft.place else None
    item.kind, item.title, item.body_markdown = draft.kind, draft.title.strip(), draft.body_markdown
    item.category_id, item.visibility, item.as_group = category_id, draft.visibility, draft.as_group
    item.quantity, item.needed_by = draft.quantity, draft.needed_by
    item.place_name = draft.place.name.strip() if draft.place else None
    item.latitude, item.longitude = point if point else (None, None)
    item.radius_m = draft.place.radius_m if draft.place else 500
    item.starts_at, item.ends_at, item.timezone = draft.starts_at, draft.ends_at, draft.timezone
    item.people_wanted, item.capacity, item.ally_relay = (
        draft.people_wanted,
        draft.capacity,
        draft.ally_relay,
    )
    item.urgent = draft.urgent
    if item.overflowed_at is None:  # once sent, withdrawn only by closing it
        if draft.overflow_after is not None:
            overflow.check(draft.kind, draft.visibility, draft.overflow_hops)
        created = item.created_at or utcnow()
        item.overflow_at = None if draft.overflow_after is None else created + draft.overflow_after
        item.overflow_hops = draft.overflow_hops


def _check_call(draft: Draft) -> None:
    if draft.kind != Kind.CALL:
        if draft.meeting_point or draft.capacity is not None:
            raise ValueError("only a call has a meeting point or a capacity")
        return
    if draft.capacity is not None and draft.capacity < 1:
        raise ValueError("a capacity is at least 1")
    if draft.starts_at and draft.needed_by and draft.needed_by > draft.starts_at:
        raise ValueError("a call's needed-by moment is before it starts")
    if draft.reveal_before is not None and draft.reveal_before < timedelta(0):
        raise ValueError("--reveal-before is a duration, like 2h")


async def _seal(session: AsyncSession, seal: Seal | None, item: Item, draft: Draft) -> None:
    if draft.meeting_point is None:
        return
    if draft.meeting_point.strip() and seal is None:
        raise escrow.NoSecretKey()
    await escrow.store(
        session,
        seal or Seal(""),
        item,
        draft.meeting_point,
        reveal_before=draft.reveal_before,
        reveal_inline=draft.reveal_inline,
    )


async def _check_intake(
    session: AsyncSession, group: LocalActor, member: LocalActor, draft: Draft, seal: Seal | None
) -> Draft:
    """An ask on someone's behalf: a moderator's (or admin's), always as the group."""
    if draft.requester is None:
        return draft
    if await role_in(session, group, member) not in (Role.MODERATOR, Role.ADMIN):
        raise NotAllowed(
            f"only moderators of @{group.username} post on behalf of someone without an account"
        )
    if seal is None:
        raise escrow.NoSecretKey()
    return replace(draft, as_group=True)


async def create_item(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    author: LocalActor,
    draft: Draft,
    *,
    confirm: bool = False,
    seal: Seal | None = None,
) -> Item:
    if group.type != ActorType.GROUP:
        raise ValueError(f"{group.username!r} is not a group")
    if await role_in(session, group, author) is None:
        raise NotAllowed(f"@{author.username} is not a member of @{group.username}")
    draft = await _check_intake(session, group, author, draft, seal)
    if len(draft.title) > MAX_TITLE:
        raise ValueError(f"a title has at most {MAX_TITLE} characters")
    if draft.visibility != Visibility.MEMBERS and not confirm:
        check_personal_data(draft, group.region)
    _check_call(draft)
    category = await items.category(session, uris, group, draft.category)
    uuid = uuid4().hex
    item = Item(
        uuid=uuid, uri=uris.item(uuid), group_id=group.id, author_id=author.id, created_at=utcnow()
    )
    item.status = Status.SCHEDULED if draft.kind == Kind.CALL else Status.OPEN
    _apply(item, draft, category.id)
    document = wire.to_ap(await items.to_wire(session, uris, item))  # validates, too
    session.add(item)
    await session.flush()
    await _seal(session, seal, item, draft)
    if draft.requester is not None and seal is not None:
        await intake.store(session, seal, item, draft.requester)
    if item.visibility != Visibility.MEMBERS:
        await _publish_create(session, uris, item, group, author, document)
    await alerts.new_call(session, item)
    return item


async def _publish_create(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    group: LocalActor,
    author: LocalActor,
    document: dict[str, Any],
) -> None:
    visibility = Visibility(item.visibility)
    creator = group if item.as_group else author
    created = await publish(
        session, creator, _activity(uris, "Create", creator, document), visibility, followers=True
    )
    await pass_on(session, uris, group, created)
    if not item.as_group:
        announce = {
            "@context": vocab.AS_CONTEXT,
            "id": uris.activity(uuid4().hex),
            "type": "Announce",
            "actor": uris.actor(group.username),
            "object": item.uri,
            "to": document["to"],
            "cc": [c for c in document["cc"] if c != uris.actor(group.username)],
            "published": document["published"],
        }
        await publish(session, group, announce, visibility, followers=True)
    if item.kind == Kind.CALL:
        await _publish_poll(session, uris, item, group, "Create", item.created_at)


async def _publish_poll(
    session: AsyncSession, uris: Uris, item: Item, group: LocalActor, type: str, now: datetime
) -> None:
    """The group's poll for a call (Create once, then Update with the counts)."""
    question = await items.question_of(session, uris, item, now if type == "Update" else None)
    await publish(
        session,
        group,
        _activity(uris, type, group, question),
        Visibility(item.visibility),
        followers=True,
    )


def _activity(uris: Uris, type: str, actor: LocalActor, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": document.pop("@context", wire.ITEM_CONTEXT),
        "id": uris.activity(uuid4().hex),
        "type": type,
        "actor": uris.actor(actor.username),
        "to": document.get("to", []),
        "cc": document.get("cc", []),
        "object": document,
    }


async def _author_actor(session: AsyncSession, item: Item) -> tuple[LocalActor, LocalActor]:
    """(the actor that speaks for the item, its group)."""
    group = await session.get(LocalActor, item.group_id)
    author = await session.get(LocalActor, item.author_id)
    assert group is not None and author is not None
    return (group if item.as_group else author), group


async def publish_update(
    session: AsyncSession, uris: Uris, item: Item, *, now: datetime | None = None
) -> None:
    """The item's Update from its author; for a call also its poll's, both with the count. What
    overflowed to allies is taken back when it closed or stopped being public."""
    await overflow.item_changed(session, uris, item)
    if item.visibility == Visibility.MEMBERS:
        return
    speaker, group = await _author_actor(session, item)
    value = await items.to_wire(session, uris, item)
    document = wire.to_ap(value)
    others = [] if speaker is group else [group]
    updated = await publish(
        session,
        speaker,
        _activity(uris, "Update", speaker, document),
        Visibility(item.visibility),
        followers=True,
        followers_of=others,
    )
    await pass_on(session, uris, group, updated)
    if item.kind == Kind.CALL:
        now = now or utcnow()
        item.count_sent, item.count_sent_at = value.people_coming, now
        await _publish_poll(session, uris, item, group, "Update", now)


async def may_change(session: AsyncSession, item: Item, member: LocalActor | None) -> None:
    """The author, or a moderator or admin of the group (an instance admin is every group's admin);
    None means an admin tool (the CLI)."""
    if member is None or member.id == item.author_id:
        return
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    if await role_in(session, group, member) not in (Role.MODERATOR, Role.ADMIN):
        raise NotAllowed(f"@{member.username} may not change this item")


async def edit_item(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    draft: Draft,
    *,
    by: LocalActor | None = None,
    confirm: bool = False,
    seal: Seal | None = None,
) -> Item:
    await may_change(session, item, by)
    if item.deleted_at is not None or item.status in CLOSED:
        raise ValueError("a closed or deleted item cannot be edited")
    if draft.requester is not None:
        group = await session.get(LocalActor, item.group_id)
        assert group is not None
        if by is not None:
            draft = await _check_intake(session, group, by, draft, seal)
        if not item.as_group:
            raise ValueError("only an item posted as the group is posted on someone's behalf")
    if draft.kind != item.kind:
        raise ValueError("an item's kind cannot change")
    if draft.as_group != item.as_group or (
        draft.visibility != item.visibility
        and Visibility.MEMBERS in (draft.visibility, item.visibility)
    ):
        raise ValueError(
            "who posts an item and whether it leaves the instance are fixed once posted"
        )
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    if draft.visibility != Visibility.MEMBERS and not confirm:
        check_personal_data(draft, group.region)
    _check_call(draft)
    category = await items.category(session, uris, group, draft.category)
    narrowed = item.visibility == Visibility.PUBLIC and draft.visibility == Visibility.FOLLOWERS
    _apply(item, draft, category.id)
    item.updated_at = utcnow()
    await session.flush()
    if narrowed:
        await _narrow(session, item)
    await _seal(session, seal, item, draft)
    if draft.requester is not None:
        if seal is None:
            raise escrow.NoSecretKey()
        await intake.store(session, seal, item, draft.requester)
    await publish_update(session, uris, item)
    return item


async def _narrow(session: AsyncSession, item: Item) -> None:
    """A public item made followers-only: what we sent about it while it was public (its
    Create, the group's Announce, the poll's, earlier Updates) is from now on served as
    followers-only too, so the outbox, `/activities/…` and the item's own gate stop showing
    it to everyone. Copies other servers already hold are theirs."""
    await session.execute(
        update(Activity)
        .where(
            Activity.object_uri.in_([item.uri, item.poll_uri]),
            Activity.visibility == Visibility.PUBLIC,
        )
        .values(visibility=Visibility.FOLLOWERS)
    )


def draft_of(item: Item, category_slug: str, **changes: Any) -> Draft:
    """The item as a Draft (for editing a few fields); `place` keeps the coarse point."""
    draft = Draft(
        kind=Kind(item.kind),
        title=item.title,
        body_markdown=item.body_markdown,
        category=category_slug,
        visibility=Visibility(item.visibility),
        as_group=item.as_group,
        quantity=item.quantity,
        place=item.place,
        needed_by=item.needed_by,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        timezone=item.timezone,
        people_wanted=item.people_wanted,
        capacity=item.capacity,
        ally_relay=item.ally_relay,
        urgent=item.urgent,
        overflow_after=overflow.delay(item),
        overflow_hops=item.overflow_hops,
    )
    return replace(draft, **changes)


async def close_item(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    status: Status | str,
    *,
    by: LocalActor | None = None,
    now: datetime | None = None,
) -> Item:
    status = Status(status)
    await may_change(session, item, by)
    if status not in CLOSED or status not in STATUSES[Kind(item.kind)]:
        allowed = ", ".join(sorted(s for s in STATUSES[Kind(item.kind)] if s in CLOSED))
        raise ValueError(f"a {item.kind} closes as one of: {allowed}")
    if item.deleted_at is not None or item.status in CLOSED:
        raise ValueError(f"this {item.kind} is already {item.status}")
    item.status, item.updated_at = status, now or utcnow()
    await session.flush()
    await escrow.revoke(session, uris, item, now=item.updated_at)
    await publish_update(session, uris, item)
    return item


REOPENABLE = frozenset({Status.FULFILLED, Status.WITHDRAWN})


async def reopen_item(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    *,
    by: LocalActor | None = None,
    now: datetime | None = None,
) -> Item:
    """A fulfilled or withdrawn ask or offer is open again, and its Update says so. A call done or
    cancelled stays so (its people were told), and an item past its needed-by date is posted
    again instead: reopened, it would expire at once."""
    await may_change(session, item, by)
    now = now or utcnow()
    if item.deleted_at is not None or item.status not in REOPENABLE:
        raise ValueError(f"only a fulfilled or withdrawn ask or offer reopens, not a {item.status}")
    if item.needed_by is not None and item.needed_by <= now:
        raise ValueError("its needed-by date has passed: post it again with a new date")
    item.status, item.updated_at = Status.OPEN, now
    await session.flush()
    await publish_update(session, uris, item)
    return item


async def delete_item(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    *,
    by: LocalActor | None = None,
    now: datetime | None = None,
    also_to: list[str] | None = None,
) -> None:
    """`also_to`: remote actors to tell besides the followers (a leaving member's own
    followers, whose follows go with her account before the fan-out runs)."""
    await may_change(session, item, by)
    if item.deleted_at is not None:
        return
    item.deleted_at = now or utcnow()
    await escrow.revoke(session, uris, item, now=item.deleted_at)
    await overflow.item_changed(session, uris, item)
    if item.visibility == Visibility.MEMBERS:
        return
    speaker, group = await _author_actor(session, item)
    speaker_uri = uris.actor(speaker.username)
    tombstone = wire.item_tombstone(item.uri, item.deleted_at)
    tombstone.pop("@context")
    group_uri = uris.actor(group.username)
    followers = uris.followers(group_uri)
    to = [vocab.PUBLIC] if item.visibility == Visibility.PUBLIC else [followers]
    cc = ([followers] if item.visibility == Visibility.PUBLIC else []) + [group_uri]
    delete = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Delete",
        "actor": speaker_uri,
        "to": to,
        "cc": cc,
        "object": tombstone,
    }
    deleted = await publish(
        session,
        speaker,
        delete,
        Visibility(item.visibility),
        followers=True,
        to_actors=also_to,
        followers_of=[] if speaker is group else [group],
    )
    await pass_on(session, uris, group, deleted)


MAX_MESSAGE = 2000


async def respond(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    member: LocalActor,
    message: str = "",
    *,
    now: datetime | None = None,
) -> ItemResponse:
    """A member's "I can help" with an ask or offer, or the conversation of her "I'm coming" to a
    call (the count is her commitment: `models.commitments`), with an optional private message
    for the author and the group's moderators. Answering again after taking it back renews it."""
    kind = ResponseKind.COMING if item.kind == Kind.CALL else ResponseKind.HELP
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    if await role_in(session, group, member) is None:
        raise NotAllowed(f"@{member.username} is not a member of @{group.username}")
    if item.deleted_at is not None or item.status in CLOSED:
        raise ValueError(f"this {item.kind} is closed")
    message = message.replace("\r\n", "\n").strip()[:MAX_MESSAGE]
    response = await session.scalar(
        select(ItemResponse).where(
            ItemResponse.item_id == item.id, ItemResponse.member_id == member.id
        )
    )
    if response is not None and response.withdrawn_at is None:
        return response
    if response is None:
        response = ItemResponse(item_id=item.id, kind=kind, member_id=member.id)
        session.add(response)
    response.message, response.withdrawn_at = message or None, None
    response.created_at = now or utcnow()
    await session.flush()
    if kind == ResponseKind.HELP:  # a commitment alerts the author itself
        await alerts.response(session, item, member.id)
    return response


async def withdraw_response(
    session: AsyncSession, item: Item, member: LocalActor, *, now: datetime | None = None
) -> bool:
    """A member takes back her "I can help" (or, with her commitment, her "I'm coming"): it no
    longer counts, and the conversation stays for those who saw it. Whether there was one."""
    response = await session.scalar(
        select(ItemResponse).where(
            ItemResponse.item_id == item.id,
            ItemResponse.member_id == member.id,
            ItemResponse.withdrawn_at.is_(None),
        )
    )
    if response is None:
        return False
    response.withdrawn_at = now or utcnow()
    await session.flush()
    return True


async def mine(session: AsyncSession, item: Item, member: LocalActor) -> ItemResponse | None:
    return await session.scalar(
        select(ItemResponse).where(
            ItemResponse.item_id == item.id, ItemResponse.member_id == member.id
        )
    )


async def answers(session: AsyncSession, response: ItemResponse) -> list[Answer]:
    """The private answers to a response, oldest first: for whoever may see the response."""
    return list(
        await session.scalars(
            select(Answer).where(Answer.response_id == response.id).order_by(Answer.id)
        )
    )


async def responses(session: AsyncSession, item: Item, viewer: LocalActor) -> list[ItemResponse]:
    """Every response, for the item's author and the group's moderators; nobody else."""
    await may_change(session, item, viewer)
    return list(
        await session.scalars(
            select(ItemResponse).where(ItemResponse.item_id == item.id).order_by(ItemResponse.id)
        )
    )


async def expire_due(session: AsyncSession, uris: Uris, now: datetime | None = None) -> int:
    """Open asks and offers past `needed_by` become expired; scheduled calls past their end are
    done. Each publishes its Update."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(Item)
            .where(
                Item.deleted_at.is_(None),
                ((Item.status == Status.OPEN) & (Item.needed_by < now))
                | ((Item.status == Status.SCHEDULED) & (Item.ends_at < now)),
            )
            .order_by(Item.id)
            .limit(200)
        )
    )
    for item in due:
        item.status = Status.DONE if item.kind == Kind.CALL else Status.EXPIRED
        item.updated_at = now
        await session.flush()
        await escrow.revoke(session, uris, item, now=now)
        await publish_update(session, uris, item)
    return len(due)


async def reply_to_response(
    session: AsyncSession,
    uris: Uris,
    response: ItemResponse,
    by: LocalActor,
    text_markdown: str,
    *,
    confirm: bool = False,
) -> Answer:
    """Answer any response privately. A member here finds it on the item's page, with a notice
    and an alert (which never hold its text). A remote reply or message is answered by a direct
    message from the group (never from the member who writes it), in reply to the response, to
    its author only: it leaves the instance and is stored on another server, so personal data in
    it needs `confirm`."""
    item = await session.get(Item, response.item_id)
    assert item is not None
    await may_change(session, item, by)
    if not text_markdown.strip():
        raise ValueError("a reply says something")
    answer = Answer(response_id=response.id, author_id=by.id, text=text_markdown.strip())
    if response.member_id is not None:
        session.add(answer)
        await session.flush()
        await notices.notify(
            session, [response.member_id], NoticeKind.ANSWER, item_id=item.id, now=answer.created_at
        )
        await alerts.record(
            session, AlertKind.ANSWER, [response.member_id], item_id=item.id, group_id=item.group_id
        )
        return answer
    remote_object = (
        await session.get(RemoteObject, response.remote_object_id)
        if response.remote_object_id
        else None
    )
    if remote_object is None:
        raise ValueError("this response can no longer be answered")
    recipient = await session.get(RemoteActor, remote_object.remote_actor_id)
    group = await session.get(LocalActor, item.group_id)
    assert recipient is not None and group is not None
    if not confirm:
        check_texts([text_markdown], group.region)
    create = await messages.direct_message(
        session,
        uris,
        group,
        recipient,
        render_markdown(text_markdown),
        in_reply_to=remote_object.uri,
    )
    answer.note_uri = create["object"]["id"]
    session.add(answer)
    await session.flush()
    return answer
