"""Server-rendered HTML pages.

Every user-facing string goes through Jinja2's i18n extension. `gettext` returns the English
string or its translation from the Babel catalogues (see `ayni.web.i18n`).
"""

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from ayni.web import i18n, nav, security


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return i18n.translator(context["request"]).gettext(message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return i18n.translator(context["request"]).ngettext(singular, plural, n)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def _page_context(request: Request) -> dict[str, Any]:
    # A callable, so that only pages with a form put a CSRF token into the session.
    return {
        "csrf_token": lambda: security.csrf_token(request), "viewer": security.viewer(request),
        "language": i18n.language(request), "languages": i18n.LANGUAGES, "nav": nav.of(request),
    }


static_directory = Path(__file__).parent / "static"
_templates = Jinja2Templates(env=_environment(), context_processors=[_page_context])


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return _templates.TemplateResponse(request, name, context, status_code=status_code)
