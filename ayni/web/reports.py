"""A member reports one of our items, or one of our members, to the group's moderators: a short
form (`/report?item=UUID` or `?member=NAME`), kept here and shown on the moderation page
(`models.group_moderation.report_to_moderators`). Nothing is sent to another server.

She may report what she may see: a public item, or a private one of her own groups; any member's
profile. A report about a member reaches the moderators of each group that member belongs to.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, render, security
from ayni.web.i18n import N_
from federation.visibility import Visibility
from models import actors, group_moderation
from models.actors import ActorType, LocalActor
from models.items import Item
from models.runtime import Runtime

MAX_COMMENT = 2000
NOTHING_TO_REPORT = N_("There is nothing to report at that address.")


async def _reported(
    request: Request, session: AsyncSession, me: LocalActor, item_uuid: str, username: str
) -> tuple[Item | None, LocalActor | None]:
    """The item or member the form names, if the reporter may see it; 404 otherwise."""
    if item_uuid:
        item = await session.scalar(select(Item).where(Item.uuid == item_uuid[:64]))
        if item is not None and item.deleted_at is None:
            group = await session.get(LocalActor, item.group_id)
            visible = item.visibility == Visibility.PUBLIC or (
                group is not None and await actors.role_in(session, group, me) is not None
            )
            if visible:
                return item, None
    elif username:
        member = await actors.find_actor(session, username[:64])
        if member is not None and member.type == ActorType.PERSON and member.id != me.id:
            return None, member
    raise HTTPException(404, NOTHING_TO_REPORT)


def _back(item: Item | None, member: LocalActor | None) -> str:
    return f"/items/{item.uuid}" if item is not None else f"/@{member.username if member else ''}"


async def report_form(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        me = await access.member(request, session)
        item, member = await _reported(
            request,
            session,
            me,
            request.query_params.get("item", ""),
            request.query_params.get("member", ""),
        )
    return render(
        request, "report.html", {"item": item, "member": member, "back": _back(item, member)}
    )


async def report(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    comment = str(form.get("comment", "")).strip()[:MAX_COMMENT]
    async with runtime.sessions() as session, session.begin():
        me = await access.member(request, session)
        item, member = await _reported(
            request, session, me, str(form.get("item", "")), str(form.get("member", ""))
        )
        await group_moderation.report_to_moderators(session, me, comment, item=item, member=member)
    flash.flash(request, N_("Thank you. The group's moderators will look at your report."))
    return RedirectResponse(_back(item, member), status_code=303)


routes = [
    Route("/report", report_form, methods=["GET"]),
    Route("/report", report, methods=["POST"]),
]
