"""The HTML side of an item's uri, and answering it from the browser.

Who sees what: a public item, anyone; a followers-only or members-only item, only signed-in
members of its group (a browser carries no HTTP signature, so the followers' servers see it
through ActivityPub, not here); a signed-out visitor is asked to sign in (403), a signed-in
non-member gets the 404 of an item that does not exist. Public replies from other servers are
shown to all who see the item; members' responses, their private messages and the private answers
to them only to the author and the group's moderators, who may answer every response (a member
here on this page, a remote person by a direct message from the group); a member sees her own
response, her message and the answers to it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, calls, flash, i18n, item_form, render, security
from ayni.web.groups import KIND_LABELS, STATUS_LABELS
from ayni.web.i18n import N_
from federation.itemterms import CLOSED, Kind, Status
from federation.markdown import render_markdown
from federation.visibility import Visibility
from models import commitments, escrow, intake, introductions, items, matching, posting
from models.actors import LocalActor, Role, role_in
from models.calls import Channel, CommitmentState
from models.content import RemoteObject, Tombstone
from models.items import Category, Item, ItemResponse, ResponseKind
from models.posting import NotAllowed, PersonalData
from models.remote import RemoteActor
from models.runtime import Runtime

REPLY_PERSONAL_DATA = N_(
    "This looks like personal data: %(found)s. A private answer still goes to another server "
    "and is kept there. Remove it, or tick “Send it anyway” if this person should have it."
)


def reply_refused(request: Request, found: list[str]) -> str:
    """Why a private answer was held back (`PersonalData.found`), in the page's language."""
    said = item_form.described(found, lambda message: i18n.gettext(request, message))
    return i18n.gettext(request, REPLY_PERSONAL_DATA, found=said)


NO_ITEM = N_("There is no such item, or you cannot see it.")
GONE = N_("This item was deleted.")
HOW_TO_HELP = {
    Kind.ASK: N_(
        "Can you help? Members of the group: press “I can help” below and the author will be in "
        "touch. From another server: reply to this post or send the group a direct message. "
        "Please keep addresses and phone numbers out of public replies."
    ),
    Kind.OFFER: N_(
        "Would this help you or someone you know? Members of the group: press “I'm interested” "
        "below. From another server: send the group a direct message; a private message is "
        "better than a public reply for anything personal."
    ),
    Kind.CALL: N_(
        "Can you come? Members of the group: press “I'm coming” below so the organisers know "
        "how many to expect. From another server: reply to this post."
    ),
}
RESPOND_LABELS = {
    Kind.ASK: N_("I can help"),
    Kind.OFFER: N_("I'm interested"),
    Kind.CALL: N_("I'm coming"),
}
# A member's answer is stored as "help" for asks and offers, "coming" for calls.
RESPONDED = {
    Kind.ASK: N_("You said you can help. The author and the group's moderators can see that."),
    Kind.OFFER: N_(
        "You said you are interested. The author and the group's moderators can see that."
    ),
    Kind.CALL: N_("You said you are coming."),
}
RESPONSE_LABELS = {
    (Kind.ASK, ResponseKind.HELP): N_("can help"),
    (Kind.OFFER, ResponseKind.HELP): N_("is interested"),
    (Kind.CALL, ResponseKind.COMING): N_("is coming"),
}
TAKEN_BACK_LABELS = {
    Kind.ASK: N_("can no longer help"),
    Kind.OFFER: N_("is no longer interested"),
    Kind.CALL: N_("can no longer come"),
}
WITHDRAW_LABELS = {
    Kind.ASK: N_("I can't help after all"),
    Kind.OFFER: N_("I'm no longer interested"),
    Kind.CALL: N_("I can't come after all"),
}
REMOTE_LABELS = {
    ResponseKind.REPLY: N_("replied publicly"),
    ResponseKind.MESSAGE: N_("sent a private message"),
}
COMING_SAVED = N_("Thank you: you are counted as coming.")
WITHDRAWN_SAVED = N_("Noted: you are no longer counted as coming. Thank you for saying so.")
CALL_FULL = N_(
    "This call already has as many people as it can take, so you were not added. "
    "The organisers will post again if more people are needed."
)
CALL_CLOSED = N_("This call is over or cancelled: answers are no longer taken.")
REPLY_SENT = N_("Your answer was sent privately, from the group.")
ANSWERED = N_("Answered privately: only this person, the author and the group's moderators see it.")
TAKEN_BACK = N_("Noted: your answer is taken back. Thank you for saying so.")
SIGN_IN_TO_SEE = N_("Sign in to see this")
RESPOND_SENT = N_("Thank you. The author and the group's moderators can see your answer.")
EMPTY_REPLY = N_("Write something to send.")
INTRODUCED = N_(
    "Sent: they were asked whether they want to be put in touch. Their answer comes to the "
    "group's messages."
)
INTRODUCED_HERE = N_(
    "Asked: they will see the question on their post's page, and their answer will show here."
)
INTRODUCED_ALREADY = N_("They were asked already: nothing was sent again.")
NO_MATCH = N_("This is no longer one of the item's possible matches.")
NOT_INTRODUCIBLE = N_(
    "This match cannot be introduced from here: it is in this item's own group, or this item "
    "may not be named to them."
)
NO_QUESTION = N_("There is no such question for this item, or it can no longer be answered.")
SAID_YES = N_("Thank you: each side can now see whom to write to.")
SAID_NO = N_("Noted: they will see that you said no, thanks. Nothing was shared.")
ANSWERED_ALREADY = N_("This was answered already: nothing changed.")


class SignInToSee(HTTPException):
    """A followers-only or members-only item asked for by a signed-out visitor."""

    def __init__(self) -> None:
        super().__init__(403, SIGN_IN_TO_SEE)


@dataclass(frozen=True)
class Said:
    """One private answer to a response, as the page shows it."""

    who: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Shown:
    """One response as the page shows it."""

    id: int
    label: str  # a message id
    who: str  # a member's name, or a remote handle
    link: str | None
    content_html: str
    public: bool
    remote: bool
    at: datetime
    message: str | None = None  # a member's private message with her response
    answers: tuple[Said, ...] = ()


@dataclass(frozen=True)
class Match:
    """A possible match as its managers see it: the candidate, and how far introducing it went."""

    candidate: matching.Candidate
    introducible: bool
    state: str | None = None  # of its introduction, once there is one
    contact: str | None = None  # the other side's handle, once they said yes


async def possible_matches(
    session: AsyncSession, runtime: Runtime, item: Item, asked: set[str]
) -> list[Match]:
    """Its matches, but those whose side introduced itself to this item already (`asked`):
    they are in the page's own section of questions (`introductions.questions`)."""
    rules = await runtime.blocklist.rules()
    introduced = await introductions.of_item(session, item)
    found = []
    for candidate in await matching.matches(session, item, rules):
        if candidate.uri in asked:
            continue
        row = introduced.get(candidate.uri)
        found.append(
            Match(
                candidate,
                row is None and await introductions.may_introduce(session, item, candidate),
                row.state if row is not None else None,
                await introductions.contact(session, runtime.uris, row) if row else None,
            )
        )
    return found


async def _remote(
    session: AsyncSession, response: ItemResponse
) -> tuple[RemoteObject, RemoteActor] | None:
    if response.remote_object_id is None:
        return None
    remote_object = await session.get(RemoteObject, response.remote_object_id)
    if remote_object is None:
        return None
    actor = await session.get(RemoteActor, remote_object.remote_actor_id)
    return (remote_object, actor) if actor is not None else None


async def said(
    session: AsyncSession, item: Item, response: ItemResponse, *, managers: bool
) -> tuple[Said, ...]:
    """The answers to a response. Its author and moderators see who wrote each; the person who
    responded sees the group's name for an item posted as the group (its author is not named)."""
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    found = []
    for answer in await posting.answers(session, response):
        writer = await session.get(LocalActor, answer.author_id) if answer.author_id else None
        if item.as_group and not managers:
            who = group.name or f"@{group.username}"
        else:
            who = (writer.name or f"@{writer.username}") if writer else "?"
        found.append(Said(who, answer.text, answer.created_at))
    return tuple(found)


async def _shown(session: AsyncSession, item: Item, response: ItemResponse) -> Shown:
    kind = ResponseKind(response.kind)
    answers = await said(session, item, response, managers=True)
    remote = await _remote(session, response)
    if remote is not None:
        remote_object, actor = remote
        handle = f"@{actor.username}@{actor.host}" if actor.username else actor.uri
        return Shown(
            response.id,
            REMOTE_LABELS.get(kind, REMOTE_LABELS[ResponseKind.REPLY]),
            f"{actor.name} ({handle})" if actor.name else handle,
            actor.uri,
            remote_object.content_html,
            remote_object.public,
            True,
            response.created_at,
            answers=answers,
        )
    member = await session.get(LocalActor, response.member_id) if response.member_id else None
    name = f"{member.name} (@{member.username})" if member else "?"
    link = f"/@{member.username}" if member else None
    label = (
        TAKEN_BACK_LABELS[Kind(item.kind)]
        if response.withdrawn_at is not None
        else RESPONSE_LABELS.get(
            (Kind(item.kind), kind), RESPONSE_LABELS[(Kind.ASK, ResponseKind.HELP)]
        )
    )
    return Shown(
        response.id,
        label,
        name,
        link,
        "",
        False,
        False,
        response.created_at,
        message=response.message,
        answers=answers,
    )


async def public_replies(session: AsyncSession, item: Item) -> list[Shown]:
    rows = await session.scalars(
        select(ItemResponse)
        .join(RemoteObject, RemoteObject.id == ItemResponse.remote_object_id)
        .where(
            ItemResponse.item_id == item.id,
            ItemResponse.kind == ResponseKind.REPLY,
            RemoteObject.public.is_(True),
        )
        .order_by(ItemResponse.id)
    )
    return [await _shown(session, item, response) for response in rows]


async def visible_item(
    request: Request, session: AsyncSession
) -> tuple[Item, LocalActor, LocalActor | None, Role | None]:
    """(item, group, viewer, viewer's role in the group), or 404 (410 once deleted)."""
    item = await session.scalar(select(Item).where(Item.uuid == request.path_params["uuid"]))
    if item is None:
        uri = request.app.state.runtime.uris.item(request.path_params["uuid"])
        forgotten = await session.scalar(select(Tombstone.id).where(Tombstone.uri == uri))
        if forgotten is not None:  # forgotten by retention: gone for good
            raise HTTPException(410, GONE)
        raise HTTPException(404, NO_ITEM)
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    # Only look the viewer up when there is one: signing a stranger "out" would drop her CSRF token.
    who = await access.optional_member(request, session) if security.viewer(request) else None
    role = await role_in(session, group, who) if who else None
    if item.visibility != Visibility.PUBLIC and role is None:
        # Whoever has the link may learn that there is something to sign in for (while it is
        # there); a signed-in non-member learns nothing she would not from an unknown address.
        if who is not None or item.deleted_at is not None:
            raise HTTPException(404, NO_ITEM)
        raise SignInToSee()
    if item.deleted_at is not None:
        raise HTTPException(410, GONE)
    return item, group, who, role


def formatted(request: Request, item: Item) -> dict[str, str]:
    language = i18n.language(request)
    try:
        zone = ZoneInfo(item.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    dates: dict[str, str] = {}
    if item.needed_by:
        dates["needed_by"] = format_date(item.needed_by.astimezone(zone), "long", locale=language)
    for name in ("starts_at", "ends_at"):
        if moment := getattr(item, name):
            local = moment.astimezone(zone)
            dates[name] = (
                f"{format_date(local, 'full', locale=language)}, "
                f"{format_time(local, 'short', locale=language)}"
            )
    if dates:
        dates["timezone"] = str(zone)
    return dates


async def context(request: Request, session: AsyncSession) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    item, group, who, role = await visible_item(request, session)
    category = await session.get(Category, item.category_id)
    author = None if item.as_group else await session.get(LocalActor, item.author_id)
    manages = False
    private: list[Shown] = []
    if who is not None:
        try:
            private = [
                await _shown(session, item, r) for r in await posting.responses(session, item, who)
            ]
            manages = True
        except NotAllowed:
            pass
    mine = None
    own = await posting.mine(session, item, who) if who is not None else None
    # Matching, and other groups here asking whether to put this item's side in touch: for the
    # item's managers only, and never beyond this page.
    questions = await introductions.questions(session, runtime.uris, item) if manages else []
    matches = (
        await possible_matches(session, runtime, item, {q.uri for q in questions})
        if manages
        else []
    )
    if who is not None and item.kind == Kind.CALL:
        commitment = await commitments.find(session, item, commitments.Person.member(who))
        mine = commitment.state if commitment and commitment.state == "coming" else None
    elif own is not None and own.withdrawn_at is None:
        mine = own.kind
    # Her own response as she sees it: her message and the answers to it.
    conversation = (
        {
            "withdrawn": own.withdrawn_at is not None,
            "message": own.message,
            "answers": await said(session, item, own, managers=manages),
        }
        if own is not None
        else None
    )
    closed = item.status in CLOSED
    count = await items.counts(session, item) if item.kind == Kind.CALL else None
    coming = count[CommitmentState.COMING] if count else 0
    full = item.capacity is not None and coming >= item.capacity
    # The sealed meeting point: for those who said they are coming, and the call's managers.
    meeting_point = (
        await escrow.meeting_point(session, runtime.seal, item)
        if item.kind == Kind.CALL and (manages or mine == CommitmentState.COMING)
        else None
    )
    # Moderators answer for what is posted in the group's name, so they (only) see who wrote it;
    # the author's own view reads like everyone else's.
    moderates = manages and who is not None and who.id != item.author_id
    hidden_author = (
        await session.get(LocalActor, item.author_id)
        if moderates and item.as_group and item.author_id != item.group_id  # she left
        else None
    )
    # Who an ask on someone's behalf is for: the group's moderators and admins, nobody else.
    requester = (
        await intake.read(session, runtime.seal, item)
        if role in (Role.MODERATOR, Role.ADMIN)
        else None
    )
    return {
        "item": item,
        "meeting_point": meeting_point,
        "group": group,
        "author": author,
        "hidden_author": hidden_author,
        "requester": requester,
        "category": category,
        "kind_label": KIND_LABELS[Kind(item.kind)],
        "kind_labels": {str(kind): label for kind, label in KIND_LABELS.items()},
        "status_label": STATUS_LABELS[Status(item.status)],
        "closed": closed,
        "dates": formatted(request, item),
        "host": runtime.settings.host,
        "details_html": render_markdown(
            item.body_markdown
        ),  # CommonMark, raw HTML off, then sanitised
        "people_coming": coming if item.kind == Kind.CALL else None,
        "people_missing": max((item.people_wanted or 0) - coming, 0),
        "full": full and mine is None,
        # Who is coming and how, the escalation steps and the escrow audit: managers only.
        "overview": await calls.overview(session, item)
        if manages and item.kind == Kind.CALL
        else None,
        "public_replies": await public_replies(session, item),
        "how_to_help": HOW_TO_HELP[Kind(item.kind)],
        "may_respond": role is not None
        and not closed
        and who is not None
        and who.id != item.author_id,
        "respond_label": RESPOND_LABELS[Kind(item.kind)],
        "withdraw_label": WITHDRAW_LABELS[Kind(item.kind)],
        "my_response": RESPONDED[Kind(item.kind)] if mine else None,
        "conversation": conversation,
        "reopenable": manages and item.status in posting.REOPENABLE,
        "manages": manages,
        "matches": matches,
        "questions": questions,
        "viewer_member": who,
        "private": private,  # public replies too: they can be answered privately
        "flash": flash.take(request),
        "reply_error": None,
        "reply_text": "",
        "reply_to": None,
    }


async def seen(session: AsyncSession, page: dict[str, Any], who: LocalActor | None) -> None:
    """The page showed the sealed meeting point to a signed-in member: one view, recorded."""
    if page["meeting_point"] and who is not None:
        await escrow.record_view(session, page["item"], member_id=who.id)


async def show(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as session, session.begin():
            page = await context(request, session)
            await seen(session, page, page["viewer_member"])
    except SignInToSee as refused:
        response = render(
            request, "sign_in_to_see.html", {"next": request.url.path}, refused.status_code
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response
    response = render(request, "item.html", page)
    response.headers["Vary"] = "Accept, Signature, Cookie"
    if page["item"].visibility != Visibility.PUBLIC or page["meeting_point"] or page["requester"]:
        response.headers["Cache-Control"] = "private, no-store"
    return response


async def _commit(
    session: AsyncSession, runtime: Runtime, item: Item, who: LocalActor, state: CommitmentState
) -> tuple[str, bool]:
    """A member's "I'm coming" or "I can't come after all": what to tell her (a message id), and
    whether it was taken."""
    person = commitments.Person.member(who)
    if state == CommitmentState.WITHDRAWN and await commitments.find(session, item, person) is None:
        return WITHDRAWN_SAVED, True  # nothing to take back
    try:
        await commitments.commit(session, runtime, item, person, state, Channel.WEB)
    except commitments.CallFull:
        return CALL_FULL, False
    except commitments.CallClosed:
        return CALL_CLOSED, False
    return (COMING_SAVED if state == CommitmentState.COMING else WITHDRAWN_SAVED), True


async def respond(request: Request) -> Response:
    """ "I can help", "I'm interested", "I'm coming", with an optional private message."""
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    text = str(form.get("message", ""))
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        item, _, _, role = await visible_item(request, session)
        if role is None:
            raise HTTPException(403, N_("Only members of the group can answer here."))
        message, taken = RESPOND_SENT, True
        if item.kind == Kind.CALL:
            message, taken = await _commit(session, runtime, item, who, CommitmentState.COMING)
        if taken:
            try:
                await posting.respond(session, runtime.uris, item, who, text)
            except NotAllowed:
                raise HTTPException(403, N_("Only members of the group can answer here.")) from None
            except ValueError:
                raise HTTPException(400, N_("This item is closed.")) from None
    flash.flash(request, message)
    return RedirectResponse(f"/items/{item.uuid}", status_code=303)


async def withdraw(request: Request) -> Response:
    """ "I can't help after all", "I'm no longer interested", "I can't come after all"."""
    await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        item, _, _, role = await visible_item(request, session)
        if role is None:
            raise HTTPException(403, N_("Only members of the group can answer here."))
        message = TAKEN_BACK
        if item.kind == Kind.CALL:
            message, _ = await _commit(session, runtime, item, who, CommitmentState.WITHDRAWN)
        await posting.withdraw_response(session, item, who)
    flash.flash(request, message)
    return RedirectResponse(f"/items/{item.uuid}", status_code=303)


async def reply(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    text = str(form.get("text", "")).replace("\r\n", "\n").strip()[:5000]
    confirm = form.get("confirm_personal_data") == "yes"
    async with runtime.sessions() as session:
        problem, personal_data, sent = None, False, REPLY_SENT
        async with session.begin():
            who = await access.member(request, session)
            item, _, _, _ = await visible_item(request, session)
            response = await session.get(ItemResponse, request.path_params["response_id"])
            if response is None or response.item_id != item.id:
                raise HTTPException(404, N_("There is no such response."))
            try:
                if not text:
                    problem = EMPTY_REPLY
                else:
                    await posting.reply_to_response(
                        session, runtime.uris, response, who, text, confirm=confirm
                    )
                    sent = ANSWERED if response.member_id is not None else REPLY_SENT
            except PersonalData as e:
                problem = reply_refused(request, e.found)
                personal_data = True
            except NotAllowed:
                raise HTTPException(
                    403, N_("Only the author and the group's moderators can answer.")
                ) from None
            except ValueError:
                problem = N_("This response can no longer be answered.")
        if problem is not None:
            async with session.begin():
                page = await context(request, session)
                await seen(session, page, page["viewer_member"])
            page.update(
                reply_error=problem,
                reply_text=text,
                reply_to=response.id,
                reply_personal_data=personal_data,
            )
            return render(request, "item.html", page, 400)
    flash.flash(request, sent)
    return RedirectResponse(f"/items/{item.uuid}", status_code=303)


async def introduce(request: Request) -> Response:
    """ "Introduce": ask a possible match's side whether they want to be put in touch."""
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    uri = str(form.get("candidate", ""))[:2048]
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        item, _, _, _ = await visible_item(request, session)
        try:
            await posting.may_change(session, item, who)
        except NotAllowed:
            raise HTTPException(
                403, N_("Only the author and the group's moderators can do that.")
            ) from None
        rules = await runtime.blocklist.rules()
        candidate = await matching.candidate(session, item, uri, rules)
        if candidate is None:
            raise HTTPException(404, NO_MATCH)
        try:
            _, sent = await introductions.introduce(session, runtime.uris, item, candidate)
        except introductions.NotIntroduced:
            raise HTTPException(400, NOT_INTRODUCIBLE) from None
    done = INTRODUCED_HERE if candidate.local else INTRODUCED
    flash.flash(request, done if sent else INTRODUCED_ALREADY)
    return RedirectResponse(f"/items/{item.uuid}#matches", status_code=303)


async def answer_introduction(request: Request) -> Response:
    """ "Yes" or "No" to another group here asking whether to put this item's side in touch."""
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    said = form.get("answer")
    if said not in ("yes", "no"):
        raise HTTPException(400, N_("Answer yes or no."))
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        item, _, _, _ = await visible_item(request, session)
        try:
            await posting.may_change(session, item, who)
        except NotAllowed:
            raise HTTPException(
                403, N_("Only the author and the group's moderators can do that.")
            ) from None
        changed = await introductions.answer(
            session, runtime.uris, item, request.path_params["introduction_id"], said == "yes"
        )
        if changed is None:
            raise HTTPException(404, NO_QUESTION)
    flash.flash(request, (SAID_YES if said == "yes" else SAID_NO) if changed else ANSWERED_ALREADY)
    return RedirectResponse(f"/items/{item.uuid}#introductions", status_code=303)


routes = [
    Route("/items/{uuid}/introduce", introduce, methods=["POST"]),
    Route(
        "/items/{uuid}/introductions/{introduction_id:int}",
        answer_introduction,
        methods=["POST"],
    ),
    Route("/items/{uuid}/respond", respond, methods=["POST"]),
    Route("/items/{uuid}/withdraw", withdraw, methods=["POST"]),
    Route("/items/{uuid}/responses/{response_id:int}/reply", reply, methods=["POST"]),
]
