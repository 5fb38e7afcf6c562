"""Server-rendered HTML pages."""

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return _templates.TemplateResponse(request, name, context, status_code=status_code)
