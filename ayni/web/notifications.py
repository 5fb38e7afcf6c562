"""Notifications: new responses to a member's own items, "I can help" and "I'm coming" from
members here, replies and messages from other servers. Those after the member's
`notifications_seen_at` are new until they mark them seen."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, nav, render, security
from ayni.web.i18n import N_
from models.actors import LocalActor
from models.base import utcnow
from models.content import RemoteObject
from models.items import Item, ItemResponse, ResponseKind
from models.remote import RemoteActor
from models.runtime import Runtime

LIMIT = 100
RESPONSE_LABELS = {
    ResponseKind.HELP: N_("can help with"),
    ResponseKind.REPLY: N_("replied to"),
    ResponseKind.MESSAGE: N_("sent a private message about"),
}


@dataclass(frozen=True)
class Notification:
    kind: str
    who: str
    item_title: str
    item_link: str
    content_html: (
        str  # remote replies and messages only; sanitised when stored and again when shown
    )
    at: datetime
    new: bool


async def notifications(session: AsyncSession, member: LocalActor) -> list[Notification]:
    responder = LocalActor.__table__.alias("responder")
    rows = await session.execute(
        select(
            ItemResponse, Item, responder.c.name, responder.c.username, RemoteObject, RemoteActor
        )
        .join(Item, Item.id == ItemResponse.item_id)
        .outerjoin(responder, responder.c.id == ItemResponse.member_id)
        .outerjoin(RemoteObject, RemoteObject.id == ItemResponse.remote_object_id)
        .outerjoin(RemoteActor, RemoteActor.id == RemoteObject.remote_actor_id)
        .where(*nav.about_my_items(member))
        .order_by(ItemResponse.created_at.desc(), ItemResponse.id.desc())
        .limit(LIMIT)
    )
    seen = member.notifications_seen_at
    found = []
    for response, item, name, username, remote_object, remote_actor in rows.all():
        if remote_actor is not None:
            who = remote_actor.name or (
                f"@{remote_actor.username}@{remote_actor.host}"
                if remote_actor.username
                else remote_actor.uri
            )
        else:
            who = name or username or ""
        found.append(
            Notification(
                kind=response.kind,
                who=who,
                item_title=item.title,
                item_link=item.uri,
                content_html=remote_object.content_html if remote_object is not None else "",
                at=response.created_at,
                new=seen is None or response.created_at > seen,
            )
        )
    return found


async def notifications_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        member = await access.member(request, session)
        listed = await notifications(session, member)
        count = await nav.unread(session, member)
    return render(
        request,
        "notifications.html",
        {
            "notifications": listed,
            "unread": count,
            "labels": {str(k): v for k, v in RESPONSE_LABELS.items()},
        },
    )


async def mark_seen(request: Request) -> Response:
    await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        member = await access.member(request, session)
        member.notifications_seen_at = utcnow()
    return RedirectResponse("/notifications", status_code=303)


routes = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications/seen", mark_seen, methods=["POST"]),
]
