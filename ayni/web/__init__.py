"""Server-rendered HTML pages.

Templates translate literal strings with Jinja2's i18n extension: `_()` and `ngettext()` return
the English string or its translation from the Babel catalogues (see `ayni.web.i18n`). That
result is marked safe and %-formatted (the values filled in are escaped), so those functions take
string literals only; a runtime value that may have a translation (a label, a default category
name, an error) goes through `tr()`, plain text that autoescape escapes. HTML from elsewhere
(remote posts, Markdown) is printed through the `sanitized` filter, never `| safe`.
tests/unit/test_templates.py holds every template to this.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from ayni.web import i18n, nav, security, times
from federation.sanitize import sanitize_html
from models.base import utcnow


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return i18n.translator(context["request"]).gettext(message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return i18n.translator(context["request"]).ngettext(singular, plural, n)


@jinja2.pass_context
def _translated(context: jinja2.runtime.Context, text: str) -> str:
    """A runtime value's translation if the catalogue has one, else the value: plain text, never
    formatted, never marked safe."""
    if not text:  # the empty message id is the catalogue's header
        return ""
    return str(i18n.translator(context["request"]).gettext(str(text)))


@jinja2.pass_context
def _shown(context: jinja2.runtime.Context, at: datetime) -> times.Shown:
    """A moment as people read it ("2 days ago", the local time in the title): in the member's
    time zone when she is signed in, else UTC, named."""
    request = context["request"]
    return times.shown(at, utcnow(), security.zone(request), i18n.language(request))


def _sanitized(html: str) -> Markup:
    return Markup(sanitize_html(html))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["tr"] = _translated
    env.globals["shown"] = _shown
    env.filters["sanitized"] = _sanitized
    return env


def _page_context(request: Request) -> dict[str, Any]:
    # A callable, so that only pages with a form put a CSRF token into the session.
    return {
        "csrf_token": lambda: security.csrf_token(request),
        "viewer": security.viewer(request),
        "language": i18n.language(request),
        "languages": i18n.LANGUAGES,
        "nav": nav.of(request),
    }


static_directory = Path(__file__).parent / "static"
_templates = Jinja2Templates(env=environment(), context_processors=[_page_context])


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return _templates.TemplateResponse(request, name, context, status_code=status_code)
