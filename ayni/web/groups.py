"""What a group page lists: the group's open public items, filtered by kind and status.

Only public items, whoever asks (members-only and followers-only items have their own pages
later, behind a role check). An item posted as the group names no member here either.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ayni.runtime import Runtime
from ayni.web.i18n import N_
from federation.itemterms import CLOSED, Kind, Status
from models.actors import LocalActor
from models.items import Item, ItemVisibility

LIMIT = 100


@dataclass(frozen=True)
class Listed:
    uri: str
    kind: str
    title: str
    status: str
    place_name: str | None
    author_name: str | None  # None when posted as the group


@dataclass(frozen=True)
class Filters:
    kind: Kind | None = None
    status: Status | None = None

    @classmethod
    def parse(cls, kind: str | None, status: str | None) -> "Filters":
        """Unknown values are ignored rather than refused: these come from links and old bookmarks."""
        kinds = {str(member): member for member in Kind}
        statuses = {str(member): member for member in Status}
        return cls(kinds.get(kind or ""), statuses.get(status or ""))


async def public_items(session: AsyncSession, group: LocalActor, filters: Filters) -> list[Listed]:
    query = (
        select(Item, LocalActor.name)
        .join(LocalActor, LocalActor.id == Item.author_id)
        .where(
            Item.group_id == group.id,
            Item.visibility == ItemVisibility.PUBLIC,
            Item.deleted_at.is_(None),
        )
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(LIMIT)
    )
    if filters.kind is not None:
        query = query.where(Item.kind == filters.kind)
    if filters.status is not None:
        query = query.where(Item.status == filters.status)
    else:
        query = query.where(Item.status.not_in([str(status) for status in CLOSED]))
    rows = await session.execute(query)
    return [
        Listed(
            uri=item.uri, kind=item.kind, title=item.title, status=item.status,
            place_name=item.place_name, author_name=None if item.as_group else name,
        )
        for item, name in rows.all()
    ]


# Message ids: the templates translate them.
KIND_LABELS = {Kind.ASK: N_("Ask"), Kind.OFFER: N_("Offer"), Kind.CALL: N_("Call")}
STATUS_LABELS = {
    Status.OPEN: N_("Open"), Status.SCHEDULED: N_("Scheduled"), Status.FULFILLED: N_("Fulfilled"),
    Status.WITHDRAWN: N_("Withdrawn"), Status.EXPIRED: N_("Expired"), Status.DONE: N_("Done"),
    Status.CANCELLED: N_("Cancelled"),
}


async def page_context(
    runtime: Runtime, group: LocalActor, query: Mapping[str, str]
) -> dict[str, Any]:
    filters = Filters.parse(query.get("kind"), query.get("status"))
    async with runtime.sessions() as session:
        listed = await public_items(session, group, filters)
    return {
        "items": listed,
        "filters": filters,
        "kinds": {str(kind): label for kind, label in KIND_LABELS.items()},
        "statuses": [(str(status), label) for status, label in STATUS_LABELS.items()
                     if status != Status.OPEN],
    }
