"""One short confirmation carried in the session from a form's POST to the page it redirects to
(Post/Redirect/Get): shown once, then gone."""

from starlette.requests import Request

from ayni.web import i18n

_KEY = "flash"


def flash(request: Request, message: str, **variables: object) -> None:
    """`message` is a message id (marked with N_); it is translated now, for this viewer."""
    request.session[_KEY] = i18n.gettext(request, message, **variables)


def take(request: Request) -> str | None:
    message = request.session.pop(_KEY, None) if "session" in request.scope else None
    return message if isinstance(message, str) else None
