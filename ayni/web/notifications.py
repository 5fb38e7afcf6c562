"""Notifications: new responses to a member's own items, "I can help" and "I'm coming" from
members here, replies and messages from other servers, and notices to her (among them that her
own response has a private answer, never what it says). Those after the member's
`notifications_seen_at` are new until they mark them seen."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, calls, i18n, nav, render, security, times
from ayni.web.i18n import N_
from models import conversations
from models.actors import LocalActor
from models.base import utcnow
from models.calls import Commitment, CommitmentState
from models.content import RemoteObject
from models.items import Item, ItemResponse, RemoteItem, ResponseKind, counts
from models.messages import handle_of
from models.notices import Notice, NoticeKind
from models.remote import RemoteActor
from models.runtime import Runtime

LIMIT = 100
INTRODUCTIONS = (NoticeKind.INTRODUCTION_ASKED, NoticeKind.INTRODUCTION)
TAKEN_BACK = "taken-back"  # a member's "I can help" she took back
RESPONSE_LABELS = {
    ResponseKind.HELP: N_("can help with"),
    TAKEN_BACK: N_("took back their answer to"),
    ResponseKind.REPLY: N_("replied to"),
    ResponseKind.MESSAGE: N_("sent a private message about"),
    CommitmentState.COMING: N_("is coming to"),
    CommitmentState.MAYBE: N_("may come to"),
    CommitmentState.WITHDRAWN: N_("can no longer come to"),
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
    anonymous: bool = False  # "someone via <group>": a group's Join for a person it does not name
    missing: int = 0  # a call still short: how many more are needed


async def commitment_notifications(session: AsyncSession, member: LocalActor) -> list[Notification]:
    """Who said they are coming to (or can no longer come to) the member's own calls: by name or
    handle, never what a message said."""
    rows = await session.execute(
        select(Commitment, Item)
        .join(Item, Item.id == Commitment.item_id)
        .where(
            Item.author_id == member.id,
            Item.deleted_at.is_(None),
            or_(Commitment.member_id.is_(None), Commitment.member_id != member.id),
        )
        .order_by(Commitment.updated_at.desc(), Commitment.id.desc())
        .limit(LIMIT)
    )
    seen = member.notifications_seen_at
    found = []
    for commitment, item in rows.all():
        who = await calls.who_is(session, commitment)
        found.append(
            Notification(
                kind=commitment.state,
                who=who.name,
                item_title=item.title,
                item_link=item.uri,
                content_html="",
                at=commitment.updated_at,
                new=seen is None or commitment.updated_at > seen,
                anonymous=who.anonymous,
            )
        )
    return found


async def notice_notifications(session: AsyncSession, member: LocalActor) -> list[Notification]:
    """Her notices: a call of her group still short of people, and the private message another
    server sent her with her way to its meeting point (shown to her alone)."""
    rows = await session.scalars(
        select(Notice)
        .where(Notice.member_id == member.id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(LIMIT)
    )
    seen = member.notifications_seen_at
    found = []
    for notice in rows:
        new = seen is None or notice.created_at > seen
        if notice.kind == NoticeKind.CALL_SHORT and notice.item_id is not None:
            item = await session.get(Item, notice.item_id)
            if item is None or item.deleted_at is not None:
                continue
            missing = (item.people_wanted or 0) - (await counts(session, item))["coming"]
            if missing <= 0:
                continue  # reached since: nothing to ask for
            found.append(
                Notification(
                    notice.kind,
                    "",
                    item.title,
                    f"/items/{item.uuid}",
                    "",
                    notice.created_at,
                    new,
                    missing=missing,
                )
            )
        elif notice.kind in INTRODUCTIONS and notice.item_id is not None:
            # Which of her items, and where to answer or to see whom to write to: on its page.
            item = await session.get(Item, notice.item_id)
            if item is None or item.deleted_at is not None:
                continue
            anchor = (
                "#introductions" if notice.kind == NoticeKind.INTRODUCTION_ASKED else "#matches"
            )
            found.append(
                Notification(
                    notice.kind,
                    "",
                    item.title,
                    f"/items/{item.uuid}{anchor}",
                    "",
                    notice.created_at,
                    new,
                )
            )
        elif notice.kind == NoticeKind.ANSWER and notice.item_id is not None:
            # That there is an answer, and where: what it says is on the item's page only.
            item = await session.get(Item, notice.item_id)
            if item is None or item.deleted_at is not None:
                continue
            found.append(
                Notification(
                    notice.kind, "", item.title, f"/items/{item.uuid}", "", notice.created_at, new
                )
            )
        elif notice.kind == NoticeKind.MEETING_POINT:
            message = (
                await session.get(RemoteObject, notice.remote_object_id)
                if notice.remote_object_id is not None
                else None
            )
            call = (
                await session.get(RemoteItem, notice.remote_item_id)
                if notice.remote_item_id is not None
                else None
            )
            sender = await session.get(RemoteActor, message.remote_actor_id) if message else None
            if message is None:
                continue
            link = call.url or call.uri if call is not None else ""
            found.append(
                Notification(
                    notice.kind,
                    (sender.name or handle_of(sender)) if sender else "",
                    call.title if call is not None else "",
                    link if link.startswith(("https://", "http://")) else "",
                    message.content_html,
                    notice.created_at,
                    new,
                )
            )
    return found


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
                kind=TAKEN_BACK if response.withdrawn_at is not None else response.kind,
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
        listed = sorted(
            await notifications(session, member)
            + await commitment_notifications(session, member)
            + await notice_notifications(session, member),
            key=lambda n: n.at,
            reverse=True,
        )[:LIMIT]
        count = await nav.unread(session, member)
        waiting = await conversations.waiting(session, member)
    now, zone, language = utcnow(), security.zone(request), i18n.language(request)
    return render(
        request,
        "notifications.html",
        {
            "notifications": [(n, times.shown(n.at, now, zone, language)) for n in listed],
            "unread": count,
            "waiting": [(group.username, group.name, n) for group, n in waiting],
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
