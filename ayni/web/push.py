"""Web Push from a member's settings page (`_push.html`, `static/push.js`): the instance's VAPID
key for `pushManager.subscribe`, and the browser's subscription kept or forgotten
(`models.push`). JSON for the script, which sends the page's CSRF token as a form field. The
service worker that shows the notifications is served from the root (`/sw.js`), so its scope
is the whole site."""

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ayni.web import access, i18n, security, static_directory
from ayni.web.i18n import N_
from models import push
from models.runtime import Runtime

SIGN_IN = N_("Sign in first.")
NOT_A_SUBSCRIPTION = N_("This browser's subscription could not be used.")

_NO_STORE = {"Cache-Control": "private, no-store"}


def _refused(request: Request, message: str, status_code: int, reason: str = "") -> JSONResponse:
    body = {"error": i18n.gettext(request, message)}
    if reason:
        body["reason"] = reason
    return JSONResponse(body, status_code, headers=_NO_STORE)


async def key(request: Request) -> Response:
    if security.viewer(request) is None:
        return _refused(request, SIGN_IN, 401)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        await access.member(request, session)
        public = await push.public_key(session)
    return JSONResponse({"key": public}, headers=_NO_STORE)


async def subscribe(request: Request) -> Response:
    if security.viewer(request) is None:
        return _refused(request, SIGN_IN, 401)
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as session, session.begin():
            who = await access.member(request, session)
            await push.subscribe(
                session,
                who,
                str(form.get("endpoint", "")),
                str(form.get("p256dh", "")),
                str(form.get("auth", "")),
                # Tests' push services are on loopback, over plain http.
                allow_http=bool(runtime.settings.allow_private_addresses),
            )
    except push.InvalidSubscription as e:
        return _refused(request, NOT_A_SUBSCRIPTION, 400, str(e))
    return JSONResponse({"subscribed": True}, headers=_NO_STORE)


async def unsubscribe(request: Request) -> Response:
    if security.viewer(request) is None:
        return _refused(request, SIGN_IN, 401)
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        await push.unsubscribe(session, who, str(form.get("endpoint", "")))
    return JSONResponse({"subscribed": False}, headers=_NO_STORE)


async def service_worker(request: Request) -> Response:
    return FileResponse(
        static_directory / "sw.js",
        media_type="application/javascript",
        headers={
            "Cache-Control": "no-cache",  # a new version is taken at the next visit
            "Content-Security-Policy": "default-src 'self'",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [
    Route("/sw.js", service_worker, methods=["GET"]),
    Route("/my/push/key", key, methods=["GET"]),
    Route("/my/push/subscribe", subscribe, methods=["POST"]),
    Route("/my/push/unsubscribe", unsubscribe, methods=["POST"]),
]
