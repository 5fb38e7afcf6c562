"""Translations: Babel message catalogues, English (the source) and Spanish, for the pages and
for what is sent to members (e-mail, push). The catalogues live below the shell so that both
can use them.

The `.po` files under `locales/` are compiled in memory when first used, so there is no build
step and no compiled file to keep in sync. `make messages` extracts the strings of templates and
Python (marked with `N_`) into `locales/messages.pot` and merges them into each catalogue.
"""

import io
from functools import cache

from babel.messages import mofile, pofile
from babel.support import NullTranslations, Translations

from models import locales

SOURCE = "en"
LANGUAGES = {"en": "English", "es": "Español"}


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
