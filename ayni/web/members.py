"""A group's members and invitations, for the group's admins (and the instance's).

Every route checks the admin role in this group and that the member or invitation it names
belongs to this group, in the transaction that makes the change. A group always keeps at least
one admin: the last one can be neither demoted nor removed.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, i18n, render, security
from ayni.web.i18n import N_
from ayni.web.my_groups import ROLE_LABELS
from ayni.web.refusals import FormRefused
from models import group_settings, images, invitations, member_sessions
from models.actors import LocalActor, Membership, Role
from models.runtime import Runtime

NOT_A_MEMBER = N_("That person is not a member of this group.")
NO_SUCH_INVITATION = N_("This group has no such pending invitation.")
UNKNOWN_ROLE = N_("Choose member, moderator or admin.")
LAST_ADMIN = N_("The group needs at least one admin: make someone else an admin first.")
BAD_RETENTION = N_("Days to keep closed items: a whole number from 0 to 3650.")
BAD_REGION = N_("Country code: two letters, like ES or MX, or nothing.")
_INVITATION_KEY = "new_invitation"


@dataclass(frozen=True)
class Listed:
    member_id: int
    username: str
    name: str
    role: Role
    since: datetime


def invitation_link(base_url: str, token: str) -> str:
    return f"{base_url}/invite/{token}"


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        raise FormRefused(UNKNOWN_ROLE) from None


async def _administered(request: Request, session: AsyncSession) -> tuple[LocalActor, LocalActor]:
    me = await access.member(request, session)
    return me, await access.group(session, request.path_params["name"], me, Role.ADMIN)


async def _membership(session: AsyncSession, group: LocalActor, member_id: int) -> Membership:
    found = await session.scalar(
        select(Membership).where(Membership.group_id == group.id, Membership.member_id == member_id)
    )
    if found is None:
        raise HTTPException(404, NOT_A_MEMBER)
    return found


async def _keeps_an_admin(session: AsyncSession, membership: Membership) -> None:
    """Refuses to take away the group's last admin. The admins' rows are locked (PostgreSQL), so
    two admins demoting each other at the same moment cannot both succeed."""
    if membership.role != Role.ADMIN:
        return
    admins = list(
        await session.scalars(
            select(Membership.id)
            .where(Membership.group_id == membership.group_id, Membership.role == Role.ADMIN)
            .with_for_update()
        )
    )
    if len(admins) <= 1:
        raise FormRefused(LAST_ADMIN)


async def _context(session: AsyncSession, group: LocalActor) -> dict[str, Any]:
    rows = await session.execute(
        select(Membership, LocalActor)
        .join(LocalActor, LocalActor.id == Membership.member_id)
        .where(Membership.group_id == group.id)
        .order_by(LocalActor.username)
    )
    members = [
        Listed(actor.id, actor.username, actor.name, Role(membership.role), membership.created_at)
        for membership, actor in rows.all()
    ]
    admins = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.group_id == group.id, Membership.role == Role.ADMIN)
    )
    return {
        "members": members,
        "admins": admins or 0,
        "pending": await invitations.pending(session, group),
        "images": await images.of(session, group.id),
    }


async def show(
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        me, group = await _administered(request, session)
        context = await _context(session, group)
    # A new link is shown once: taken out of the session by the page that shows it.
    new = request.session.get(_INVITATION_KEY)
    if isinstance(new, dict) and new.get("group") == group.username:
        request.session.pop(_INVITATION_KEY)
    else:
        new = None
    return render(
        request,
        "members.html",
        {
            **context,
            "group": group,
            "me": me,
            "roles": ROLE_LABELS,
            "error": error,
            "flash": flash.take(request),
            "new_invitation": new,
            "valid_days": invitations.VALID_FOR.days,
            "settings": typed
            or {"retention_days": str(group.retention_days), "region": group.region or ""},
            "max_retention": group_settings.MAX_RETENTION_DAYS,
        },
        status_code,
    )


def _back(group: LocalActor, me: LocalActor | None = None, stays_admin: bool = True) -> Response:
    """Back to the members page, or to /groups for an admin who just stepped down or left."""
    if me is not None and not stays_admin and not me.is_admin:
        return RedirectResponse("/groups", status_code=303)
    return RedirectResponse(f"/groups/{group.username}/members", status_code=303)


async def members_page(request: Request) -> Response:
    return await show(request)


async def change_role(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    try:
        async with runtime.sessions() as session, session.begin():
            me, group = await _administered(request, session)
            membership = await _membership(session, group, request.path_params["member_id"])
            role = _role(form.get("role"))
            if role != membership.role:
                await _keeps_an_admin(session, membership)
                membership.role = role
            member = await session.get(LocalActor, membership.member_id)
            username = member.username if member else ""
    except FormRefused as refused:
        return await show(request, refused.message, 400)
    flash.flash(
        request,
        N_("@%(name)s is now: %(role)s."),
        name=username,
        role=i18n.gettext(request, ROLE_LABELS[role]),
    )
    return _back(group, me, stays_admin=role == Role.ADMIN or membership.member_id != me.id)


async def remove_member(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    await security.checked_form(request)
    try:
        async with runtime.sessions() as session, session.begin():
            me, group = await _administered(request, session)
            membership = await _membership(session, group, request.path_params["member_id"])
            await _keeps_an_admin(session, membership)
            member = await session.get(LocalActor, membership.member_id)
            username = member.username if member else ""
            await session.delete(membership)
            if (
                membership.member_id != me.id
            ):  # whoever may be using her account loses its pages too
                await member_sessions.end_all(session, membership.member_id)
    except FormRefused as refused:
        return await show(request, refused.message, 400)
    flash.flash(request, N_("@%(name)s is no longer a member of the group."), name=username)
    return _back(group, me, stays_admin=membership.member_id != me.id)


async def create_invitation(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    try:
        async with runtime.sessions() as session, session.begin():
            me, group = await _administered(request, session)
            role = _role(form.get("role"))
            token = await invitations.invite(session, group, role, created_by=me)
    except FormRefused as refused:
        return await show(request, refused.message, 400)
    # Only the hash is stored: the session carries the link to the one page view that shows it.
    request.session[_INVITATION_KEY] = {
        "group": group.username,
        "role": str(role),
        "link": invitation_link(runtime.settings.base_url, token),
    }
    return _back(group)


async def change_settings(request: Request) -> Response:
    """The group's retention and country; bad input shows the form again with what was typed."""
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    typed = {
        "retention_days": str(form.get("retention_days", "")).strip()[:10],
        "region": str(form.get("region", "")).strip()[:10],
    }
    try:
        async with runtime.sessions() as session, session.begin():
            _, group = await _administered(request, session)
            try:
                group_settings.retention_days(typed["retention_days"])
            except ValueError:
                raise FormRefused(BAD_RETENTION) from None
            try:
                group_settings.region(typed["region"])
            except ValueError:
                raise FormRefused(BAD_REGION) from None
            group_settings.change(group, retention=typed["retention_days"], country=typed["region"])
    except FormRefused as refused:
        return await show(request, refused.message, 400, typed)
    flash.flash(request, N_("The group's settings were saved."))
    return _back(group)


async def revoke_invitation(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        _, group = await _administered(request, session)
        if not await invitations.revoke(session, group, request.path_params["invitation_id"]):
            raise HTTPException(404, NO_SUCH_INVITATION)
    flash.flash(request, N_("The invitation was revoked: its link no longer works."))
    return _back(group)


routes = [
    Route("/groups/{name}/members", members_page, methods=["GET"]),
    Route("/groups/{name}/members/{member_id:int}/role", change_role, methods=["POST"]),
    Route("/groups/{name}/members/{member_id:int}/delete", remove_member, methods=["POST"]),
    Route("/groups/{name}/settings", change_settings, methods=["POST"]),
    Route("/groups/{name}/invitations", create_invitation, methods=["POST"]),
    Route(
        "/groups/{name}/invitations/{invitation_id:int}/delete", revoke_invitation, methods=["POST"]
    ),
]
