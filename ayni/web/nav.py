"""What the site's navigation shows a signed-in member besides its links: how many notifications
are new (responses to her items, answers to her calls, notices to her), and the admin pages'
link if she is an instance admin.

Looked up on a GET by `access.member` (and so `optional_member`), in the page's own session;
`_page_context` hands it to the templates, which cannot query. A page that never loads the
member shows the plain links.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from models import conversations
from models.actors import LocalActor
from models.calls import Commitment
from models.items import Item, ItemResponse, ResponseKind
from models.notices import Notice


@dataclass(frozen=True)
class Nav:
    admin: bool
    unread: int


async def remember(request: Request, session: AsyncSession, member: LocalActor) -> None:
    if request.method == "GET":
        request.state.nav = Nav(member.is_admin, await unread(session, member))


def of(request: Request) -> Nav | None:
    return getattr(request.state, "nav", None)


def about_my_items(member: LocalActor) -> tuple[Any, ...]:
    """Responses to the member's live items, not counting their own (nor a member's "I'm
    coming", counted as her commitment)."""
    return (
        Item.author_id == member.id,
        Item.deleted_at.is_(None),
        ItemResponse.kind != ResponseKind.COMING,
        or_(ItemResponse.member_id.is_(None), ItemResponse.member_id != member.id),
    )


async def unread(session: AsyncSession, member: LocalActor) -> int:
    """New responses to her items, answers to her calls, notices to her, and (for moderators)
    conversations of her groups with a message nobody has opened."""
    seen = member.notifications_seen_at
    responses = (
        select(func.count())
        .select_from(ItemResponse)
        .join(Item, Item.id == ItemResponse.item_id)
        .where(*about_my_items(member))
    )
    answers = (
        select(func.count())
        .select_from(Commitment)
        .join(Item, Item.id == Commitment.item_id)
        .where(
            Item.author_id == member.id,
            Item.deleted_at.is_(None),
            or_(Commitment.member_id.is_(None), Commitment.member_id != member.id),
        )
    )
    told = select(func.count()).select_from(Notice).where(Notice.member_id == member.id)
    if seen is not None:
        responses = responses.where(ItemResponse.created_at > seen)
        answers = answers.where(Commitment.updated_at > seen)
        told = told.where(Notice.created_at > seen)
    counted = [(await session.scalar(query)) or 0 for query in (responses, answers, told)]
    return sum(counted) + sum(n for _, n in await conversations.waiting(session, member))
