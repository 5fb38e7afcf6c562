"""Every string the pages show has a Spanish translation with the same placeholders."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ayni.web import i18n
from models import locales
from models.items import DEFAULT_CATEGORIES

ROOT = Path(__file__).parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> set[str]:
    methods = [
        ("ayni/**.py", "python"),
        ("models/**.py", "python"),
        ("ayni/web/templates/**.html", "jinja2"),
    ]
    options = {"ayni/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    messages = extract_from_dir(ROOT, methods, options_map=options, keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in messages}


@pytest.fixture(scope="module")
def spanish() -> dict[str, str]:
    """Each translated entry by its id; a plural entry (ids and strings are tuples) once per form,
    keyed by its singular and plural id in turn, so that an empty form counts as untranslated."""
    with (locales.directory / "es" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated: dict[str, str] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, str):
            if m.string:
                translated[m.id] = str(m.string)
        elif isinstance(m.string, tuple | list) and all(m.string):
            # Spanish has two forms, like English: form 0 goes with the singular id, form 1 with
            # the plural.
            translated.update(zip(m.id, m.string, strict=True))
    return translated


def test_every_page_string_is_translated_into_spanish(spanish: dict[str, str]) -> None:
    strings = extracted()

    assert len(strings) > 40  # the extraction really found the pages' strings
    assert sorted(strings - spanish.keys()) == []


def test_translations_keep_the_placeholders(spanish: dict[str, str]) -> None:
    wrong = {
        m: t
        for m, t in spanish.items()
        if set(PLACEHOLDER.findall(m)) != set(PLACEHOLDER.findall(t))
    }

    assert wrong == {}


def test_the_compiled_catalogue_translates_and_english_is_the_source() -> None:
    assert i18n.translations("es").gettext("Sign in") != "Sign in"
    assert i18n.translations("en").gettext("Sign in") == "Sign in"


def test_the_default_categories_are_in_the_catalogue(spanish: dict[str, str]) -> None:
    # Pages show category names through gettext; the defaults are marked in ayni.web.board.
    names = {name for _, name in DEFAULT_CATEGORIES}

    assert sorted(names - extracted()) == [] and sorted(names - spanish.keys()) == []
