"""What the site's navigation shows a signed-in member besides its links: how many notifications
are new (responses to her items, answers to her calls, notices to her), for a moderator how many
things wait for her (follow requests, held submissions, open reports) and where, and the admin
pages' link if she is an instance admin.

Looked up on a GET by `access.member` (and so `optional_member`), in the page's own session;
`_page_context` hands it to the templates, which cannot query. A page that never loads the
member shows the plain links.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from models import conversations, group_moderation
from models.actors import ActorType, LocalActor, Membership, Role
from models.calls import Commitment
from models.follow_requests import pending_requests
from models.items import Item, ItemResponse, ResponseKind
from models.notices import Notice
from models.uris import Uris


@dataclass(frozen=True)
class Nav:
    admin: bool
    unread: int
    to_moderate: int = 0
    moderation_path: str = "/groups"  # the one group's moderation page, or the list of groups


async def remember(request: Request, session: AsyncSession, member: LocalActor) -> None:
    if request.method == "GET":
        waiting = await to_moderate(session, request.app.state.runtime.uris, member)
        path = f"/groups/{waiting[0][0]}/moderation" if len(waiting) == 1 else "/groups"
        request.state.nav = Nav(
            member.is_admin, await unread(session, member), sum(n for _, n in waiting), path
        )


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


async def to_moderate(
    session: AsyncSession, uris: Uris, member: LocalActor
) -> list[tuple[str, int]]:
    """(group name, how many things wait) for each group she moderates where something does:
    pending follow requests, held submissions, open reports from other servers and members."""
    groups = select(LocalActor).where(LocalActor.type == ActorType.GROUP)
    if not member.is_admin:
        groups = groups.join(Membership, Membership.group_id == LocalActor.id).where(
            Membership.member_id == member.id,
            Membership.role.in_([str(Role.MODERATOR), str(Role.ADMIN)]),
        )
    waiting = []
    for group in await session.scalars(groups.order_by(LocalActor.username)):
        count = (
            len(await pending_requests(session, group))
            + len(await group_moderation.submissions(session, group))
            + len(await group_moderation.reports(session, uris, group))
            + len(await group_moderation.member_reports(session, group))
        )
        if count:
            waiting.append((group.username, count))
    return waiting
