"""Asks, offers and solidarity calls: the tables, the group taxonomy, and the wire values.

An item's uri is `{base}/items/{uuid}` whoever wrote it, so an item posted "as the group" names
no member anywhere outside; its author is still stored, for the group's moderators. Places are
stored already coarsened: an exact point never reaches the database.
"""

import enum
import uuid as uuid_module
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from federation import calls, itemtext, vocab
from federation import items as wire
from federation.itemterms import Kind, Status
from federation.places import Place
from federation.visibility import Visibility
from models import actors
from models.actors import LocalActor
from models.base import Base, UTCDateTime, upsert, utcnow
from models.calls import Commitment, CommitmentState
from models.uris import Uris

DEFAULT_CATEGORIES = (
    ("food", "Food"),
    ("housing", "Housing"),
    ("transport", "Transport"),
    ("childcare", "Childcare"),
    ("health", "Health"),
    ("money", "Money"),
    ("goods", "Goods"),
    ("skills", "Skills"),
    ("care", "Care"),
    ("legal", "Legal"),
    ("other", "Other"),
)


class ResponseKind(enum.StrEnum):
    HELP = "help"  # a member: "I can help" or "I'm interested" (asks and offers)
    COMING = "coming"  # a member's "I'm coming": the conversation; the count is a Commitment
    REPLY = "reply"  # a public reply from another server
    MESSAGE = "message"  # a direct message from another server


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("group_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    action: Mapped[str | None] = mapped_column(String(32), default=None)
    # The default concept (a slug of DEFAULT_CATEGORIES) a group's own category narrows;
    # None for the default categories themselves (see models.taxonomy).
    broader: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: uuid_module.uuid4().hex
    )
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    as_group: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    place_name: Mapped[str | None] = mapped_column(String(200), default=None)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)  # coarse only
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    radius_m: Mapped[int] = mapped_column(Integer, default=500)
    needed_by: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    people_wanted: Mapped[int | None] = mapped_column(Integer, default=None)
    # Calls: at most this many may come (Join is refused beyond it); None: no limit.
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    # Calls: the last escalation step may ask allied groups to relay it.
    ally_relay: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Calls: members are told at once, even in their quiet hours, unless the poster says not.
    urgent: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Asks and offers: when it goes to the group's allies if still open (None: it never does),
    # how far it may travel (1: allies; 2: their allies too), and when it went.
    overflow_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    overflow_hops: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    overflowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Calls: the coming count last published, and when (Updates go out at most once a minute).
    count_sent: Mapped[int | None] = mapped_column(Integer, default=None)
    count_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[str] = mapped_column(String(16), index=True)
    visibility: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def end(self) -> datetime | None:
        return self.ends_at if self.kind == Kind.CALL else self.needed_by

    @property
    def place(self) -> Place | None:
        if not self.place_name:
            return None
        return Place(self.place_name, self.latitude, self.longitude, self.radius_m)

    @property
    def poll_uri(self) -> str:
        """A call's Question (its poll), served live at this uri."""
        return self.uri + POLL

    @property
    def short_by(self) -> datetime | None:
        """When a call still short of people escalates: its needed-by, else two hours before."""
        if self.kind != Kind.CALL or self.starts_at is None:
            return None
        return self.needed_by or self.starts_at - CALL_LEAD


CALL_LEAD = timedelta(hours=2)
POLL = "/poll"  # a call's poll is at its uri plus this


class ItemResponse(Base):
    """A local member's "I can help"/"I'm coming", or a remote reply or DM about an item.

    A member's `message` is private: her, the item's author and the group's moderators."""

    __tablename__ = "item_responses"
    __table_args__ = (
        UniqueConstraint("item_id", "member_id"),
        UniqueConstraint("remote_object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    remote_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_objects.id", ondelete="CASCADE")
    )
    message: Mapped[str | None] = mapped_column(Text, default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Answer(Base):
    """The author's or a moderator's private answer to a response: shown to a member here on the
    item's page, sent to a remote person as a direct message from the group (`note_uri`)."""

    __tablename__ = "response_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("item_responses.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="SET NULL"), default=None
    )
    text: Mapped[str] = mapped_column(Text)
    note_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteItem(Base):
    """An item of a group we follow on another server, for the network board."""

    __tablename__ = "remote_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    group_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    category_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    # The shared concept (models.taxonomy.canonical) its category maps to, once known.
    concept: Mapped[str | None] = mapped_column(String(2048), default=None)
    status: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    place_name: Mapped[str | None] = mapped_column(String(200), default=None)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    radius_m: Mapped[int | None] = mapped_column(Integer, default=None)
    needed_by: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    people_wanted: Mapped[int | None] = mapped_column(Integer, default=None)
    people_coming: Mapped[int | None] = mapped_column(Integer, default=None)
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteCategory(Base):
    """Another server's category (or concept) URI and the shared concept it maps to, so that
    every item of one category costs one fetch (models.taxonomy.map_due). A failed fetch keeps
    the concept found before, and is tried again at `next_attempt_at`."""

    __tablename__ = "remote_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    concept: Mapped[str | None] = mapped_column(String(2048), default=None)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


# --- the taxonomy ---


async def categories(session: AsyncSession, uris: Uris, group: LocalActor) -> list[Category]:
    """The group's categories; the default taxonomy is created on first use, so groups made
    before items existed get it too."""
    rows = list(
        await session.scalars(
            select(Category).where(Category.group_id == group.id).order_by(Category.id)
        )
    )
    if rows:
        return rows
    group_uri = uris.actor(group.username)
    rows = [
        Category(group_id=group.id, slug=slug, name=name, uri=uris.category(group_uri, slug))
        for slug, name in DEFAULT_CATEGORIES
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def add_category(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    slug: str,
    name: str,
    action: str | None = None,
    broader: str = "other",
) -> Category:
    """A group's own category; `broader` is the default category it narrows, which is what
    other servers map it to (models.taxonomy)."""
    if not actors.NAME_PATTERN.fullmatch(slug):
        raise ValueError(f"invalid category {slug!r}: use 1-30 lowercase letters, digits or _")
    if not name.strip():
        raise ValueError("a category needs a name")
    defaults = [default for default, _ in DEFAULT_CATEGORIES]
    if broader not in defaults:
        raise ValueError(
            f"broader must be a default category ({', '.join(defaults)}), not {broader!r}"
        )
    existing = {c.slug for c in await categories(session, uris, group)}
    if slug in existing:
        raise ValueError(f"the group already has a category {slug!r}")
    category = Category(
        group_id=group.id,
        slug=slug,
        name=name,
        action=action,
        broader=broader,
        uri=uris.category(uris.actor(group.username), slug),
    )
    session.add(category)
    await session.flush()
    return category


async def category(session: AsyncSession, uris: Uris, group: LocalActor, slug: str) -> Category:
    for found in await categories(session, uris, group):
        if found.slug == slug:
            return found
    raise LookupError(f"@{group.username} has no category {slug!r}")


# --- reading ---


async def find_item(session: AsyncSession, key: str | int) -> Item | None:
    """By uuid, uri or numeric id."""
    if isinstance(key, int) or key.isdigit():
        return await session.get(Item, int(key))
    return await session.scalar(select(Item).where((Item.uuid == key) | (Item.uri == key)))


async def counts(session: AsyncSession, item: Item) -> dict[str, int]:
    """How many are coming, maybe coming and no longer (or not) coming."""
    rows = await session.execute(
        select(Commitment.state, func.count())
        .where(Commitment.item_id == item.id)
        .group_by(Commitment.state)
    )
    found = {state.value: 0 for state in CommitmentState}
    found.update({state: number for state, number in rows})
    return found


async def people_coming(session: AsyncSession, item: Item) -> int:
    return (await counts(session, item))[CommitmentState.COMING]


def addressing(uris: Uris, item: Item, group: LocalActor) -> tuple[list[str], list[str]]:
    """(to, cc) of the group's own documents about an item (a call's poll, a reminder)."""
    followers = uris.followers(uris.actor(group.username))
    if item.visibility == Visibility.PUBLIC:
        return [vocab.PUBLIC], [followers]
    return [followers], []


async def question_of(
    session: AsyncSession, uris: Uris, item: Item, now: datetime | None = None
) -> dict[str, Any]:
    """A call's poll as it stands: its tallies are the current counts."""
    group = await session.get(LocalActor, item.group_id)
    assert group is not None and item.starts_at is not None
    found = await counts(session, item)
    to, cc = addressing(uris, item, group)
    return calls.question(
        uri=item.poll_uri,
        call_uri=item.uri,
        group_uri=uris.actor(group.username),
        to=to,
        cc=cc,
        language=group.language,
        title=item.title,
        when=itemtext.when(item.starts_at, item.ends_at, item.timezone),
        starts_at=item.starts_at,
        published=item.created_at,
        updated=now if now is not None else item.count_sent_at,
        coming=found[CommitmentState.COMING],
        cannot=found[CommitmentState.WITHDRAWN],
    )


async def to_wire(session: AsyncSession, uris: Uris, item: Item) -> wire.Item:
    """The federation value of an item: authored by the group when posted as the group."""
    group = await session.get(LocalActor, item.group_id)
    row = await session.get(Category, item.category_id)
    assert group is not None and row is not None
    group_uri = uris.actor(group.username)
    if item.as_group:
        author_uri = group_uri
    else:
        author = await session.get(LocalActor, item.author_id)
        assert author is not None
        author_uri = uris.actor(author.username)
    # Members-only items are never federated; locally they read like followers-only ones.
    visibility = Visibility.PUBLIC if item.visibility == Visibility.PUBLIC else Visibility.FOLLOWERS
    return wire.Item(
        uri=item.uri,
        url=item.uri,
        kind=Kind(item.kind),
        title=item.title,
        body_markdown=item.body_markdown,
        category=wire.Category(row.slug, row.name, row.uri, row.action),
        status=Status(item.status),
        visibility=visibility,
        author_uri=author_uri,
        group_uri=group_uri,
        group_handle=f"@{group.username}@{uris.host}",
        group_followers_uri=uris.followers(group_uri),
        published=item.created_at,
        updated=item.updated_at,
        quantity=item.quantity,
        place=item.place,
        needed_by=item.needed_by,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        timezone=item.timezone,
        people_wanted=item.people_wanted,
        people_coming=await people_coming(session, item) if item.kind == Kind.CALL else 0,
        language=group.language,
    )


# --- the network board: other groups' items ---


async def store_remote_item(
    session: AsyncSession, remote_actor_id: int, value: wire.RemoteItem, document: dict[str, Any]
) -> RemoteItem:
    """Insert or refresh the structured copy of a remote item (Create, Update, Announce); the
    first to store it stays its author. Its concept is its category's, when already mapped;
    otherwise the periodic job maps it (models.taxonomy.map_due)."""
    point = value.place.point if value.place else None
    concept = (
        await session.scalar(
            select(RemoteCategory.concept).where(RemoteCategory.uri == value.category_uri)
        )
        if value.category_uri
        else None
    )
    row = {
        "uri": value.uri,
        "remote_actor_id": remote_actor_id,
        "group_uri": value.group_uri,
        "kind": value.kind,
        "title": value.title[:200],
        "category_uri": value.category_uri,
        "concept": concept,
        "status": value.status,
        "visibility": value.visibility,
        "quantity": value.quantity,
        "place_name": value.place.name[:200] if value.place and value.place.name else None,
        "latitude": point[0] if point else None,
        "longitude": point[1] if point else None,
        "radius_m": value.place.radius_m if value.place else None,
        "needed_by": value.needed_by,
        "starts_at": value.starts_at,
        "ends_at": value.ends_at,
        "people_wanted": value.people_wanted,
        "people_coming": value.people_coming,
        "url": value.url,
        "document": document,
        "published_at": value.published,
        "updated_at": value.updated,
    }
    kept = {"uri", "remote_actor_id"} | ({"group_uri"} if value.group_uri is None else set())
    refreshed = [column for column in row if column not in kept]
    row_id = await upsert(session, RemoteItem, row, key="uri", update=refreshed)
    return await session.get_one(RemoteItem, row_id, populate_existing=True)


async def forget_remote_item(session: AsyncSession, uri: str, remote_actor_id: int) -> bool:
    row = await session.scalar(select(RemoteItem).where(RemoteItem.uri == uri))
    if row is None or row.remote_actor_id != remote_actor_id:
        return False
    await session.delete(row)
    return True


async def link_response(
    session: AsyncSession, item_uris: list[str], remote_object_id: int, kind: ResponseKind
) -> Item | None:
    """A remote reply or message about one of our items becomes one of its responses."""
    for uri in item_uris:
        item = await session.scalar(select(Item).where(Item.uri == uri, Item.deleted_at.is_(None)))
        if item is not None:
            session.add(ItemResponse(item_id=item.id, kind=kind, remote_object_id=remote_object_id))
            await session.flush()
            return item
    return None
