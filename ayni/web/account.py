"""A member's own account (`/my/account`): what the instance holds about her, as a JSON
download, and deleting the account for good (`models.accounts`), after typing her username."""

import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, i18n, render, security
from ayni.web.i18n import N_
from models import accounts
from models.runtime import Runtime

NOT_CONFIRMED = N_("Type your username to confirm: the account was not deleted.")
LAST_ADMIN = N_(
    "You are the last admin of %(groups)s: make someone else an admin there first. "
    "The account was not deleted."
)
ONLY_ADMIN = N_(
    "You are this instance's only admin: make someone else an admin first. "
    "The account was not deleted."
)
DELETED = N_("Your account is deleted. Other servers were asked to forget it too.")


async def _page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
    response = render(
        request,
        "account.html",
        {"member": who, "error": error, "flash": flash.take(request)},
        status_code,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def account_page(request: Request) -> Response:
    return await _page(request)


async def export(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        data = await accounts.export(session, runtime.uris, who, runtime.seal)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="ayni-{who.username}.json"',
            "Cache-Control": "no-store",
        },
    )


async def delete(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    typed = str(form.get("confirm_username", "")).strip().lower()
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        if typed != who.username.lower():
            problem = i18n.gettext(request, NOT_CONFIRMED)
        else:
            try:
                await accounts.delete_account(session, runtime.uris, who)
                problem = None
            except accounts.LastAdmin as refused:
                problem = _refusal(request, refused.groups)
    if problem is not None:
        return await _page(request, problem, 400)
    request.session.clear()  # her sessions ended with her account
    flash.flash(request, DELETED)
    return RedirectResponse("/", status_code=303)


def _refusal(request: Request, groups: list[str]) -> str:
    if not groups:
        return i18n.gettext(request, ONLY_ADMIN)
    return i18n.gettext(request, LAST_ADMIN, groups=", ".join(f"@{name}" for name in groups))


routes = [
    Route("/my/account", account_page, methods=["GET"]),
    Route("/my/account/export", export, methods=["GET"]),
    Route("/my/account/delete", delete, methods=["POST"]),
]
