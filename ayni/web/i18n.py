"""Translations of the pages: Babel message catalogues, English (the source) and Spanish.

The catalogues are `.po` files under `locales/`, compiled in memory when first used, so there is
no build step and no compiled file to keep in sync. The language is the `ayni_lang` cookie (set by
the links in the footer) or else the browser's Accept-Language.

`make messages` extracts the strings of templates and Python (marked with `N_`) into
`locales/messages.pot` and merges them into each catalogue.
"""

import io
from functools import cache

from babel.messages import mofile, pofile
from babel.support import NullTranslations, Translations
from starlette.requests import Request

from ayni.web import locales

SOURCE = "en"
LANGUAGES = {"en": "English", "es": "Español"}
COOKIE = "ayni_lang"


def N_(message: str) -> str:
    return message


@cache
def translations(language: str) -> NullTranslations:
    path = locales.directory / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = pofile.read_po(po, locale=language)
    compiled = io.BytesIO()
    mofile.write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


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
