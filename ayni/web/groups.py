"""What actor pages list. A group page: the group's open items, filtered by kind, category and
status: public ones for everyone, and for a signed-in member of the group its followers-only and
members-only ones too, each with its badge. A member's profile: their own public items, never
one posted as the group (those name no member anywhere), and not the groups they belong to
(membership is not public).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from ayni.web import access, security
from ayni.web.i18n import N_
from federation.itemterms import CLOSED, Kind, Status
from federation.visibility import Visibility
from models import taxonomy
from models.actors import LocalActor, role_in
from models.calls import Commitment, CommitmentState
from models.items import Category, Item
from models.runtime import Runtime

LIMIT = 100


@dataclass(frozen=True)
class Listed:
    uri: str
    kind: str
    title: str
    status: str
    place_name: str | None
    author_name: str | None  # None when posted as the group
    visibility: str = Visibility.PUBLIC
    category: str = ""  # its name, a message id for the default categories
    posted: datetime | None = None
    due: datetime | None = None  # an ask's or offer's needed-by date, a call's start
    people_wanted: int | None = None
    coming: int = 0  # for calls


async def coming_counts(session: AsyncSession, item_ids: list[int]) -> dict[int, int]:
    """How many are coming to each call, in one query."""
    if not item_ids:
        return {}
    rows = await session.execute(
        select(Commitment.item_id, func.count())
        .where(Commitment.item_id.in_(item_ids), Commitment.state == CommitmentState.COMING)
        .group_by(Commitment.item_id)
    )
    return {item_id: count for item_id, count in rows.all()}


@dataclass(frozen=True)
class Filters:
    kind: Kind | None = None
    status: Status | None = None
    category: str | None = None

    @classmethod
    def parse(cls, kind: str | None, status: str | None, category: str | None = None) -> "Filters":
        """Unknown values are ignored rather than refused: these come from links and old
        bookmarks."""
        kinds = {str(member): member for member in Kind}
        statuses = {str(member): member for member in Status}
        return cls(
            kinds.get(kind or ""), statuses.get(status or ""), (category or "").strip()[:64] or None
        )


async def group_items(
    session: AsyncSession, group: LocalActor, filters: Filters, *, member: bool = False
) -> list[Listed]:
    """The group's items: public ones, and all of them for a `member` of the group."""
    query = (
        select(Item, LocalActor.name, Category.name)
        .join(LocalActor, LocalActor.id == Item.author_id)
        .outerjoin(Category, Category.id == Item.category_id)
        .where(Item.group_id == group.id, Item.deleted_at.is_(None))
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(LIMIT)
    )
    if not member:
        query = query.where(Item.visibility == Visibility.PUBLIC)
    if filters.kind is not None:
        query = query.where(Item.kind == filters.kind)
    if filters.category is not None:
        query = query.where(
            Item.category_id.in_(
                select(Category.id).where(
                    Category.group_id == group.id, taxonomy.local_listed_under(filters.category)
                )
            )
        )
    if filters.status is not None:
        query = query.where(Item.status == filters.status)
    else:
        query = query.where(Item.status.not_in([str(status) for status in CLOSED]))
    rows = (await session.execute(query)).all()
    coming = await coming_counts(
        session, [item.id for item, _, _ in rows if item.kind == Kind.CALL]
    )
    return [
        Listed(
            uri=item.uri,
            kind=item.kind,
            title=item.title,
            status=item.status,
            place_name=item.place_name,
            author_name=None if item.as_group else name,
            visibility=item.visibility,
            category=category or "",
            posted=item.created_at,
            due=item.starts_at if item.kind == Kind.CALL else item.needed_by,
            people_wanted=item.people_wanted,
            coming=coming.get(item.id, 0),
        )
        for item, name, category in rows
    ]


# Message ids: the templates translate them with tr().
KIND_LABELS = {Kind.ASK: N_("Ask"), Kind.OFFER: N_("Offer"), Kind.CALL: N_("Call")}
STATUS_LABELS = {
    Status.OPEN: N_("Open"),
    Status.SCHEDULED: N_("Scheduled"),
    Status.FULFILLED: N_("Fulfilled"),
    Status.WITHDRAWN: N_("Withdrawn"),
    Status.EXPIRED: N_("Expired"),
    Status.DONE: N_("Done"),
    Status.CANCELLED: N_("Cancelled"),
}


async def own_public_items(session: AsyncSession, member: LocalActor) -> list[Listed]:
    """A member's public items posted in their own name, newest first: as-group ones never."""
    rows = await session.scalars(
        select(Item)
        .where(
            Item.author_id == member.id,
            Item.as_group.is_(False),
            Item.visibility == Visibility.PUBLIC,
            Item.deleted_at.is_(None),
        )
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(LIMIT)
    )
    return [
        Listed(
            uri=item.uri,
            kind=item.kind,
            title=item.title,
            status=item.status,
            place_name=item.place_name,
            author_name=None,
        )
        for item in rows
    ]


async def profile_context(runtime: Runtime, member: LocalActor) -> dict[str, Any]:
    async with runtime.sessions() as session:
        listed = await own_public_items(session, member)
    return {
        "items": listed,
        "kinds": {str(kind): label for kind, label in KIND_LABELS.items()},
        "statuses": {str(status): label for status, label in STATUS_LABELS.items()},
    }


async def page_context(request: Request, runtime: Runtime, group: LocalActor) -> dict[str, Any]:
    query = request.query_params
    filters = Filters.parse(query.get("kind"), query.get("status"), query.get("category"))
    async with runtime.sessions() as session:
        # Only look the viewer up when there is one: signing a stranger "out" would drop her
        # CSRF token.
        who = await access.optional_member(request, session) if security.viewer(request) else None
        member = who is not None and await role_in(session, group, who) is not None
        listed = await group_items(session, group, filters, member=member)
        # Read only: a group that never posted has no category rows yet, and needs no filter.
        categories = list(
            await session.execute(
                select(Category.slug, Category.name)
                .where(Category.group_id == group.id)
                .order_by(Category.id)
            )
        )
    return {
        "items": listed,
        "members_view": member,
        "filters": filters,
        "categories": [(row.slug, row.name) for row in categories],
        "kinds": {str(kind): label for kind, label in KIND_LABELS.items()},
        "statuses": [
            (str(status), label) for status, label in STATUS_LABELS.items() if status != Status.OPEN
        ],
    }
