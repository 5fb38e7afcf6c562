"""Who may do what on the pages. Every page that changes or shows something private asks here,
on the server, from the database: the session only says who is signed in.

Roles rank member < moderator < admin within a group; an instance admin may act in every group
(`models.actors.role_in`, which the CLI and the domain functions ask too).
"""

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ayni.web import nav, security
from ayni.web.i18n import N_
from models import actors
from models.actors import ActorType, LocalActor, Membership, Role

RANK = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


class SignInRequired(Exception):
    """Raised by `member`; the app answers with a redirect to /login that comes back here."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def local_path(candidate: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another origin."""
    if (
        not candidate
        or not candidate.startswith("/")
        or candidate.startswith("//")
        or "\\" in candidate
    ):
        return "/"
    return candidate


async def member(request: Request, session: AsyncSession) -> LocalActor:
    """The signed-in member, or SignInRequired. A deleted member's session signs them out."""
    viewer = security.viewer(request)
    found = await session.get(LocalActor, viewer.member_id) if viewer else None
    if found is None or found.type != ActorType.PERSON:
        request.session.clear()
        raise SignInRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    await nav.remember(request, session, found)
    return found


async def optional_member(request: Request, session: AsyncSession) -> LocalActor | None:
    try:
        return await member(request, session)
    except SignInRequired:
        return None


async def group(session: AsyncSession, name: str, who: LocalActor, at_least: Role) -> LocalActor:
    """The group named `name` if `who` holds at least `at_least` in it: 404 if there is no such
    group, 403 if the role is missing (a member may know the group exists: it is public)."""
    found = await actors.find_actor(session, name)
    if found is None or found.type != ActorType.GROUP:
        raise HTTPException(404, N_("There is no such group here."))
    role = await actors.role_in(session, found, who)
    if role is None or RANK[role] < RANK[at_least]:
        raise HTTPException(403, N_("You do not have permission to do that in this group."))
    return found


async def groups_of(
    session: AsyncSession, who: LocalActor, at_least: Role = Role.MEMBER
) -> list[LocalActor]:
    """The groups where `who` holds at least `at_least` (every group for an instance admin)."""
    query = (
        select(LocalActor).where(LocalActor.type == ActorType.GROUP).order_by(LocalActor.username)
    )
    if not who.is_admin:
        allowed = [str(role) for role, rank in RANK.items() if rank >= RANK[at_least]]
        query = query.join(Membership, Membership.group_id == LocalActor.id).where(
            Membership.member_id == who.id, Membership.role.in_(allowed)
        )
    return list(await session.scalars(query))


def admin(who: LocalActor) -> None:
    if not who.is_admin:
        raise HTTPException(403, N_("Only the instance's admins can do that."))
