"""The instance home page and signing in and out."""

from functools import cache

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ayni.runtime import Runtime
from ayni.web import render, security, static_directory
from ayni.web.logins import LoginAttempts
from models import actors, passwords
from models.actors import ActorType, LocalActor

LOGIN_FAILED = "That username and password do not match."
TOO_MANY = "Too many failed attempts. Wait a few minutes and try again."


async def home(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        groups = list(await session.scalars(
            select(LocalActor).where(LocalActor.type == ActorType.GROUP).order_by(LocalActor.name)
        ))
    return render(request, "home.html", {"groups": groups, "host": runtime.settings.host})


async def login_form(request: Request) -> Response:
    return render(request, "login.html", {"error": None, "username": ""})


@cache
def _dummy_hash() -> str:
    return passwords.hash_password("not anyone's password")


async def login(request: Request) -> Response:
    form = await security.checked_form(request)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    address = request.client.host if request.client else ""
    attempts: LoginAttempts = request.app.state.login_attempts
    if attempts.blocked(username, address):
        return render(request, "login.html", {"error": TOO_MANY, "username": username}, 429)
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
        return render(request, "login.html", {"error": LOGIN_FAILED, "username": username}, 400)
    attempts.succeeded(username, address)
    security.sign_in(request, member.id, member.username)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    await security.checked_form(request)
    security.sign_out(request)
    return RedirectResponse("/", status_code=303)


routes = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Mount("/static", StaticFiles(directory=static_directory), name="static"),
]
