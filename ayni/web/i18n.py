"""The language of a page: the `ayni_lang` cookie (set by the links in the footer) or else the
browser's Accept-Language. The catalogues themselves are `models.texts`'.
"""

from babel.support import NullTranslations
from starlette.requests import Request

from models.texts import LANGUAGES, N_, SOURCE, translations

__all__ = ["LANGUAGES", "N_", "SOURCE", "gettext", "language", "translations", "translator"]

COOKIE = "ayni_lang"


def _accepted(header: str) -> list[str]:
    """Accept-Language's languages, best first (`es-AR;q=0.9` -> `es`)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, parameter = part.strip().partition(";")
        quality = 1.0
        if parameter.strip().startswith("q="):
            try:
                quality = float(parameter.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].lower()))
    return [language for _, _, language in sorted(ranked)]


def language(request: Request) -> str:
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for accepted in _accepted(request.headers.get("accept-language", "")):
        if accepted in LANGUAGES:
            return accepted
    return SOURCE


def translator(request: Request) -> NullTranslations:
    return translations(language(request))


def gettext(request: Request, message: str, **variables: object) -> str:
    """For strings made in Python (flash messages, errors): plain text, which templates print
    escaped. Templates use `_()` for literals and `tr()` for message ids held in variables."""
    text = translator(request).gettext(message)
    return text % variables if variables else text
