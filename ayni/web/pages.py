"""The instance home page and signing in and out."""

import math
from functools import cache

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ayni.web import access, i18n, render, security, static_directory
from ayni.web.i18n import N_
from ayni.web.logins import LoginAttempts
from models import actors, passwords
from models.actors import ActorType, Instance, LocalActor, Membership
from models.runtime import Runtime

LOGIN_FAILED = N_("That username and password do not match.")
TOO_MANY = N_("Too many failed attempts. Wait a few minutes and try again.")
# Starlette's own errors (no such address, a method an address does not take) have the status phrase
# as their detail, which the error page translates with tr().
STOCK_ERRORS = (N_("Not Found"), N_("Method Not Allowed"))


async def home(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        groups = list(
            await session.scalars(
                select(LocalActor)
                .where(LocalActor.type == ActorType.GROUP)
                .order_by(LocalActor.name)
            )
        )
        instance = await session.scalar(select(Instance))
    return render(
        request,
        "home.html",
        {
            "groups": groups,
            "host": runtime.settings.host,
            "name": instance.name if instance else "",
            "summary": instance.summary if instance else "",
        },
    )


def _login_page(
    request: Request, error: str | None, username: str, status_code: int = 200
) -> Response:
    next_path = access.local_path(request.query_params.get("next"))
    return render(
        request,
        "login.html",
        {"error": error, "username": username, "next": next_path},
        status_code,
    )


async def login_form(request: Request) -> Response:
    return _login_page(request, None, "")


@cache
def _dummy_hash() -> str:
    return passwords.hash_password("not anyone's password")


async def login(request: Request) -> Response:
    form = await security.checked_form(request)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    address = request.client.host if request.client else ""
    attempts: LoginAttempts = request.app.state.login_attempts
    wait = attempts.wait(username, address)
    if wait > 0:
        response = _login_page(request, TOO_MANY, username, 429)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        member = await actors.find_actor(session, username) if username else None
    if member is None or member.type != ActorType.PERSON or member.username != username:
        # Verify anyway, so that the time taken does not tell which usernames exist.
        await run_in_threadpool(passwords.verify_password, _dummy_hash(), password)
        member = None
    elif not await run_in_threadpool(passwords.verify_password, member.password_hash, password):
        member = None
    if member is None:
        attempts.failed(username, address)
        return _login_page(request, LOGIN_FAILED, username, 400)
    attempts.succeeded(username, address)
    await security.sign_in(request, member)
    return RedirectResponse(await _landing(runtime, member, form.get("next")), status_code=303)


async def _landing(runtime: Runtime, member: LocalActor, asked: object) -> str:
    """Where a member lands after signing in: where she was going, else her (first) group's page,
    else, for an instance admin with no group, the admin pages."""
    if isinstance(asked, str) and asked.strip() and asked != "/":
        return access.local_path(asked)
    async with runtime.sessions() as session:
        first = await session.scalar(
            select(LocalActor.username)
            .join(Membership, Membership.group_id == LocalActor.id)
            .where(Membership.member_id == member.id)
            .order_by(Membership.id)
            .limit(1)
        )
    if first is not None:
        return f"/@{first}"
    return "/admin" if member.is_admin else "/"


async def logout(request: Request) -> Response:
    await security.checked_form(request)
    await security.sign_out(request)
    return RedirectResponse("/", status_code=303)


async def choose_language(request: Request) -> Response:
    """The footer's language links: a preference cookie, then back to the page."""
    response = RedirectResponse(
        access.local_path(request.query_params.get("next")), status_code=303
    )
    chosen = request.path_params["language"]
    if chosen in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", httponly=True
        )
    return response


async def sign_in_first(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, access.SignInRequired)
    return RedirectResponse(access.login_url(exc.next_path), status_code=303)


async def error_page(request: Request, exc: Exception) -> Response:
    """HTTP errors as a page for browsers, as text for everything else (API clients, servers)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400 or "text/html" not in request.headers.get("accept", ""):
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)
    return render(
        request, "error.html", {"message": exc.detail, "status": exc.status_code}, exc.status_code
    )


exception_handlers = {access.SignInRequired: sign_in_first, HTTPException: error_page}

routes = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/language/{language}", choose_language),
    Mount("/static", StaticFiles(directory=static_directory), name="static"),
]
