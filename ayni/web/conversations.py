"""A group's conversations: direct messages to the group about none of its items, read and
answered by its moderators and admins (`models.conversations`). Opening one marks it read for
all of them; an answer goes from the group, never from the member who writes it."""

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, render, security
from ayni.web.i18n import N_
from ayni.web.item_page import EMPTY_REPLY, reply_refused
from ayni.web.moderation import Account
from models import conversations
from models.actors import LocalActor, Role
from models.base import utcnow
from models.conversations import Conversation
from models.posting import PersonalData
from models.remote import RemoteActor
from models.runtime import Runtime

NO_SUCH_CONVERSATION = N_("This group has no such conversation.")
ANSWER_SENT = N_("Your answer was sent from the group.")


async def _moderated(request: Request, session: AsyncSession) -> tuple[LocalActor, LocalActor]:
    me = await access.member(request, session)
    return me, await access.group(session, request.path_params["name"], me, Role.MODERATOR)


async def _conversation(request: Request, session: AsyncSession, group: LocalActor) -> Conversation:
    found = await session.get(Conversation, request.path_params["conversation_id"])
    if found is None or found.group_id != group.id:
        raise HTTPException(404, NO_SUCH_CONVERSATION)
    return found


async def conversations_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        _, group = await _moderated(request, session)
        listed = [
            (
                conversation,
                Account.of(await session.get(RemoteActor, conversation.remote_actor_id)),
                conversations.unread(conversation),
            )
            for conversation in await conversations.of_group(session, group)
        ]
    return render(
        request,
        "conversations.html",
        {"group": group, "conversations": listed, "flash": flash.take(request)},
    )


async def _show(
    request: Request,
    error: str | None = None,
    text: str = "",
    personal_data: bool = False,
    status_code: int = 200,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        conversation = await _conversation(request, session, group)
        who = Account.of(await session.get(RemoteActor, conversation.remote_actor_id))
        shown = await conversations.history(session, conversation)
        conversation.read_at = utcnow()  # read: for every moderator of the group
        chat = conversation.answer_type == conversations.CHAT
        conversation_id = conversation.id
    return render(
        request,
        "conversation.html",
        {
            "group": group,
            "conversation_id": conversation_id,
            "who": who,
            "messages": shown,
            "chat": chat,
            "flash": flash.take(request),
            "error": error,
            "text": text,
            "personal_data": personal_data,
        },
        status_code,
    )


async def conversation_page(request: Request) -> Response:
    return await _show(request)


async def answer(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    text = str(form.get("text", ""))[:5000]
    confirm = form.get("confirm_personal_data") == "yes"
    async with runtime.sessions() as session, session.begin():
        me, group = await _moderated(request, session)
        conversation = await _conversation(request, session, group)
        if not text.strip():
            problem, personal_data = EMPTY_REPLY, False
        else:
            try:
                await conversations.answer(
                    session, runtime.uris, conversation, me, text, confirm=confirm
                )
                problem, personal_data = None, False
            except PersonalData as e:
                problem = reply_refused(request, e.found)
                personal_data = True
        path = f"/groups/{group.username}/conversations/{conversation.id}"
    if problem is not None:
        return await _show(request, problem, text, personal_data, 400)
    flash.flash(request, ANSWER_SENT)
    return RedirectResponse(path, status_code=303)


routes = [
    Route("/groups/{name}/conversations", conversations_page, methods=["GET"]),
    Route("/groups/{name}/conversations/{conversation_id:int}", conversation_page, methods=["GET"]),
    Route("/groups/{name}/conversations/{conversation_id:int}", answer, methods=["POST"]),
]
