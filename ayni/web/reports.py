"""A member reports one of our items, one of our members, or another server's item on her board
to the group's moderators: a short form (`/report?item=UUID`, `?member=NAME`, `?remote=ID`),
kept here and shown on the moderation page (`models.group_moderation.report_to_moderators`).
Nothing is sent to another server unless a moderator passes a report on.

She may report what she may see: a public item, or a private one of her own groups; any member's
profile; what her board shows. A report about a member reaches the moderators of each group that
member belongs to; one about another server's item, those of her groups that follow it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, board, flash, render, security
from ayni.web.i18n import N_
from federation.visibility import Visibility
from models import actors, group_moderation
from models.actors import ActorType, LocalActor
from models.items import Item, RemoteItem
from models.runtime import Runtime

MAX_COMMENT = 2000
NOTHING_TO_REPORT = N_("There is nothing to report at that address.")
NO_MODERATORS = N_(
    "Reports go to the moderators of your groups, and you are in none yet: ask this server's "
    "admins instead."
)


@dataclass(frozen=True)
class Reported:
    item: Item | None = None
    member: LocalActor | None = None
    remote: RemoteItem | None = None

    @property
    def back(self) -> str:
        if self.item is not None:
            return f"/items/{self.item.uuid}"
        if self.remote is not None:
            return "/board"
        return f"/@{self.member.username if self.member else ''}"


async def _reported(
    request: Request, session: AsyncSession, me: LocalActor, params: Mapping[str, Any]
) -> Reported:
    """What the form names, if the reporter may see it; 404 otherwise."""
    item_uuid, username = str(params.get("item", "")), str(params.get("member", ""))
    remote_id = str(params.get("remote", ""))
    if item_uuid:
        item = await session.scalar(select(Item).where(Item.uuid == item_uuid[:64]))
        if item is not None and item.deleted_at is None:
            group = await session.get(LocalActor, item.group_id)
            visible = item.visibility == Visibility.PUBLIC or (
                group is not None and await actors.role_in(session, group, me) is not None
            )
            if visible:
                return Reported(item=item)
    elif username:
        member = await actors.find_actor(session, username[:64])
        if member is not None and member.type == ActorType.PERSON and member.id != me.id:
            return Reported(member=member)
    elif remote_id.isdigit() and len(remote_id) < 12:
        runtime: Runtime = request.app.state.runtime
        rules = await runtime.blocklist.rules()
        remote = await board.visible_remote(session, me, int(remote_id), rules)
        if remote is not None:
            return Reported(remote=remote)
    raise HTTPException(404, NOTHING_TO_REPORT)


async def report_form(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        me = await access.member(request, session)
        reported = await _reported(request, session, me, request.query_params)
    return render(
        request,
        "report.html",
        {
            "item": reported.item,
            "member": reported.member,
            "remote": reported.remote,
            "back": reported.back,
        },
    )


async def report(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    comment = str(form.get("comment", "")).strip()[:MAX_COMMENT]
    async with runtime.sessions() as session, session.begin():
        me = await access.member(request, session)
        reported = await _reported(request, session, me, form)
        try:
            await group_moderation.report_to_moderators(
                session,
                me,
                comment,
                item=reported.item,
                member=reported.member,
                remote_item=reported.remote,
            )
        except LookupError:  # another server's item, and she is in no group
            raise HTTPException(400, NO_MODERATORS) from None
    flash.flash(request, N_("Thank you. The group's moderators will look at your report."))
    return RedirectResponse(reported.back, status_code=303)


routes = [
    Route("/report", report_form, methods=["GET"]),
    Route("/report", report, methods=["POST"]),
]
