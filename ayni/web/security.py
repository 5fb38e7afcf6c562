"""Sessions, CSRF tokens and the Content-Security-Policy of the HTML pages.

The session is a signed cookie (Starlette's `SessionMiddleware`): HttpOnly, SameSite=Lax, and
Secure when the instance is served over https. A signed-in session also names a row on the server
(`models.member_sessions`); `LiveSessions` forgets the member of a cookie whose row has ended, so
signing out, a new password or a removal ends every copy of the cookie. Every form POST carries
the session's CSRF token; `checked_form` refuses a missing or wrong one with 403.
"""

import hmac
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ayni.web.i18n import N_
from models import alerts, member_sessions
from models.actors import LocalActor
from models.runtime import Runtime
from models.settings import Settings

CSRF_FIELD = "csrf_token"
FORM_EXPIRED = N_("The form expired. Go back, reload the page and try again.")
UPLOAD_TOO_LARGE = N_("That is too large to send here.")
SESSION_COOKIE = "ayni_session"
SESSION_MAX_AGE = int(member_sessions.IDLE.total_seconds())
_TOKEN = "session_token"
_ZONE = "zone"

# No inline script or style anywhere; no framing (clickjacking); no plugins; no <base> rewriting.
# Workers only from this site: default-src says so already; said outright for the one worker,
# Web Push's /sw.js.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Viewer:
    member_id: int
    username: str


def viewer(request: Request) -> Viewer | None:
    """Who is signed in, from the session. Role checks must still ask the database."""
    if "session" not in request.scope:
        return None
    member_id, username = request.session.get("member_id"), request.session.get("username")
    if not isinstance(member_id, int) or not isinstance(username, str):
        return None
    return Viewer(member_id, username)


async def sign_in(request: Request, member: LocalActor) -> None:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        token = await member_sessions.start(session, member)
        zone = (await alerts.settings_of(session, member.id)).timezone
    request.session.clear()  # a fresh session, with a fresh CSRF token, for the signed-in member
    request.session.update(
        {"member_id": member.id, "username": member.username, _TOKEN: token, _ZONE: zone}
    )


def zone(request: Request) -> ZoneInfo:
    """The signed-in member's time zone (her alert settings), else UTC: kept in the session so
    that showing a time costs no query."""
    name = request.session.get(_ZONE) if "session" in request.scope else None
    return alerts.zone(name) if isinstance(name, str) else ZoneInfo("UTC")


def remember_zone(request: Request, name: str) -> None:
    request.session[_ZONE] = name


async def sign_out(request: Request) -> None:
    token = request.session.get(_TOKEN)
    if isinstance(token, str):
        runtime: Runtime = request.app.state.runtime
        async with runtime.sessions() as session, session.begin():
            await member_sessions.end(session, token)
    request.session.clear()


class LiveSessions:
    """Clears a cookie's sign-in when its server-side session has ended (or never existed), before
    any page sees it: `viewer()` can then be believed for the rest of the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cookie = scope.get("session") if scope["type"] == "http" else None
        if cookie and "member_id" in cookie and not scope["path"].startswith("/static/"):
            token, runtime = cookie.get(_TOKEN), scope["app"].state.runtime
            member_id = None
            if isinstance(token, str):
                async with runtime.sessions() as session, session.begin():
                    member_id = await member_sessions.member_id_of(session, token)
                    if member_id is not None and _ZONE not in cookie:  # signed in before zones
                        cookie[_ZONE] = (await alerts.settings_of(session, member_id)).timezone
            if member_id is None or member_id != cookie.get("member_id"):
                cookie.clear()
        await self.app(scope, receive, send)


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token matches the session's; 403 otherwise."""
    form = await request.form(max_files=0, max_fields=50)
    _check_csrf(request, form)
    return form


async def checked_upload_form(request: Request, max_bytes: int) -> FormData:
    """Like `checked_form`, for a form with at most one file: the whole body may be at most
    `max_bytes`, counted as it arrives (413 beyond), so a large upload is never spooled whole.
    The caller closes the form (`await form.close()`) once the file is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, UPLOAD_TOO_LARGE)
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > max_bytes:
            raise HTTPException(413, UPLOAD_TOO_LARGE)
        return message

    form = await Request(request.scope, capped_receive).form(
        max_files=1, max_fields=50, max_part_size=max_bytes
    )
    try:
        _check_csrf(request, form)
    except HTTPException:
        await form.close()
        raise
    return form


def _check_csrf(request: Request, form: FormData) -> None:
    sent, expected = form.get(CSRF_FIELD), request.session.get(CSRF_FIELD)
    if not isinstance(sent, str) or not isinstance(expected, str):
        raise HTTPException(403, FORM_EXPIRED)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, FORM_EXPIRED)


class ContentSecurityPolicy:
    """Adds the CSP (and nosniff, referrer policy) to every HTML response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in _HTML_HEADERS.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_policy)


def middleware(settings: Settings) -> list[Middleware]:
    # Without a configured key, a random one: sessions then end when the process does.
    key = settings.secret_key or secrets.token_urlsafe(32)
    return [
        # The client's address (the login limits count by it) from X-Forwarded-For only when the
        # connection comes from a trusted proxy; uvicorn's own copy of this is turned off.
        Middleware(
            ProxyHeadersMiddleware, trusted_hosts=[str(n) for n in settings.trusted_proxies]
        ),
        Middleware(ContentSecurityPolicy),
        Middleware(
            SessionMiddleware,
            secret_key=key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=settings.base_url.startswith("https://"),
        ),
        Middleware(LiveSessions),
    ]
