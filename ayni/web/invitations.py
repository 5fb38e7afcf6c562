"""Accepting an invitation link: the new member picks a username and a password, joins the group
with the invitation's role, and is signed in, in one step."""

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import i18n, render, security
from ayni.web.i18n import N_
from ayni.web.refusals import Problem, by_field, said
from models import actors, invitations, passwords
from models.actors import LocalActor, Role
from models.invitations import Invitation, InvitationInvalid
from models.runtime import Runtime

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 200

LINK_INVALID = N_(
    "This invitation link is unknown, was already used or has expired. Ask the group for a new one."
)
NAME_INVALID = N_("A username is 1 to 30 lowercase letters, digits or _ (no spaces).")
NAME_TAKEN = N_("That username is taken by a group or a member. Choose another one.")
PASSWORDS_DIFFER = N_("The two passwords are not the same.")
PASSWORD_SHORT = N_("A password has at least 10 characters.")
PASSWORD_LONG = N_("That password is too long.")
DISPLAY_NAME_LONG = N_("A display name has at most 200 characters.")
ROLE_LABELS = {Role.MEMBER: N_("member"), Role.MODERATOR: N_("moderator"), Role.ADMIN: N_("admin")}


async def _invitation(runtime: Runtime, token: str) -> tuple[Invitation, LocalActor]:
    async with runtime.sessions() as session:
        try:
            invitation = await invitations.usable(session, token)
        except InvitationInvalid:
            raise HTTPException(404, LINK_INVALID) from None
        group = await session.get(LocalActor, invitation.group_id)
    assert group is not None  # the foreign key cascades
    return invitation, group


def _page(
    request: Request,
    invitation: Invitation,
    group: LocalActor,
    values: dict[str, str],
    errors: list[Problem],
    status_code: int = 200,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    shown = said(errors, lambda message, **v: i18n.gettext(request, message, **v))
    return render(
        request,
        "invite.html",
        {
            "group": group,
            "role": ROLE_LABELS[Role(invitation.role)],
            "host": runtime.settings.host,
            "values": values,
            "errors": shown,
            "field_errors": by_field(shown),
            "token": request.path_params["token"],
        },
        status_code,
    )


async def invitation_form(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    invitation, group = await _invitation(runtime, request.path_params["token"])
    return _page(request, invitation, group, {"username": "", "display_name": ""}, [])


def _problems(username: str, display_name: str, password: str, again: str) -> list[Problem]:
    errors = []
    if not actors.NAME_PATTERN.fullmatch(username):
        errors.append(Problem(NAME_INVALID, field="username"))
    if len(display_name) > MAX_DISPLAY_NAME:
        errors.append(Problem(DISPLAY_NAME_LONG, field="display_name"))
    if len(password) < MIN_PASSWORD:
        errors.append(Problem(PASSWORD_SHORT, field="password"))
    elif len(password) > MAX_PASSWORD:
        errors.append(Problem(PASSWORD_LONG, field="password"))
    elif password != again:
        errors.append(Problem(PASSWORDS_DIFFER, field="password_again"))
    return errors


async def accept_invitation(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    token = request.path_params["token"]
    invitation, group = await _invitation(runtime, token)
    username = str(form.get("username", "")).strip().lower()[:64]
    display_name = " ".join(str(form.get("display_name", "")).split())
    password, again = str(form.get("password", "")), str(form.get("password_again", ""))
    values = {"username": username, "display_name": display_name}
    errors = _problems(username, display_name, password, again)
    if errors:
        return _page(request, invitation, group, values, errors, 400)
    password_hash = await run_in_threadpool(
        passwords.hash_password, password
    )  # Argon2: not on the loop
    try:
        async with runtime.sessions() as session, session.begin():
            member = await invitations.accept(session, token, username, password_hash, display_name)
    except InvitationInvalid:  # used by someone else since the page was shown
        raise HTTPException(404, LINK_INVALID) from None
    except actors.NameTaken:
        return _page(
            request, invitation, group, values, [Problem(NAME_TAKEN, field="username")], 400
        )
    except actors.InvalidName:
        return _page(
            request, invitation, group, values, [Problem(NAME_INVALID, field="username")], 400
        )
    await security.sign_in(request, member)
    return RedirectResponse("/post", status_code=303)


routes = [
    Route("/invite/{token}", invitation_form, methods=["GET"]),
    Route("/invite/{token}", accept_invitation, methods=["POST"]),
]
