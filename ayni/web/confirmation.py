"""Asking before what cannot be taken back, without JavaScript.

A destructive POST without `confirm=yes` changes nothing: it answers with a page that says what
will happen, whose form posts the same fields again with `confirm=yes` (and the session's CSRF
token, like every form). The texts are message ids, translated here.
"""

from collections.abc import Mapping

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ayni.web import i18n, render


def confirmed(form: FormData) -> bool:
    return form.get("confirm") == "yes"


def ask(
    request: Request,
    *,
    question: str,
    explanation: str,
    button: str,
    back: str,
    fields: Mapping[str, str] | None = None,
    **variables: str,
) -> Response:
    """The confirmation page: `question`, `explanation` and `button` are message ids (filled in
    with `variables`); the form posts back to this request's path."""

    def text(message: str) -> str:
        return i18n.gettext(request, message, **variables)

    response = render(
        request,
        "confirm.html",
        {
            "question": text(question),
            "explanation": text(explanation),
            "button": text(button),
            "action": request.url.path,
            "fields": dict(fields or {}),
            "back": back,
        },
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
