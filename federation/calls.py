"""Solidarity calls on the wire, beyond the Event: the count in words, the poll that Mastodon and
every app with polls can answer, what a vote or a direct message means, and what the group says
back. English and Spanish, in the group's language.

Mastodon shows polls only on `Question` objects; a vote comes back as
`Create(Note{name: <option>, inReplyTo: <question>})` addressed to the poll's author alone.
"""

import copy
import re
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from html import escape
from typing import Any

from federation.interaction_policy import POLICY_TERMS, published_policy
from federation.vocab import AS_CONTEXT, PUBLIC, first, has_type, id_of

__all__ = [
    "COMING",
    "LANGUAGES",
    "Answer",
    "count_line",
    "intent",
    "poll_options",
    "question",
    "text",
    "vote",
]

LANGUAGES = ("en", "es")


class Answer(StrEnum):
    COMING = "coming"
    MAYBE = "maybe"
    WITHDRAWN = "withdrawn"


COMING = Answer.COMING

_TEXT = {
    "en": {
        "coming": "I'm coming",
        "cannot": "I can't",
        "short": "{coming} of {needed} coming: {missing} more needed",
        "reached": "{coming} of {needed} coming: thank you",
        "question": "Can you come to {title}? {when}",
        "understood_coming": "Counted: you are coming to {title}. Thank you! "
        "Send “cancel” if that changes.",
        "understood_withdrawn": "Noted: you are no longer counted for {title}.",
        "reveal_link": "Thank you for coming to {title} ({when}). "
        "Where exactly to meet, for you only: {link}\nPlease do not share this link.",
        "reveal_inline": "Thank you for coming to {title} ({when}). "
        "Where exactly to meet, for you only: {place}\nPlease do not share it.",
        "still_needed": "Still {missing} people needed for {title}, {when}. Can you come? {link}",
        "relay_request": "Still {missing} people needed for {title}, {when}. "
        "Could you share it with your followers? {link}",
    },
    "es": {
        "coming": "Voy",
        "cannot": "No puedo",
        "short": "Vienen {coming} de {needed}: faltan {missing}",
        "reached": "Vienen {coming} de {needed}: gracias",
        "question": "¿Puedes venir a {title}? {when}",
        "understood_coming": "Apuntado: vienes a {title}. ¡Gracias! "
        "Escribe «no puedo» si cambia algo.",
        "understood_withdrawn": "Anotado: ya no cuentas para {title}.",
        "reveal_link": "Gracias por venir a {title} ({when}). "
        "Dónde quedamos exactamente, solo para ti: {link}\nPor favor, no compartas este enlace.",
        "reveal_inline": "Gracias por venir a {title} ({when}). "
        "Dónde quedamos exactamente, solo para ti: {place}\nPor favor, no lo compartas.",
        "still_needed": "Aún faltan {missing} personas para {title}, {when}. ¿Puedes venir? {link}",
        "relay_request": "Aún faltan {missing} personas para {title}, {when}. "
        "¿Podéis compartirlo con quienes os siguen? {link}",
    },
}

# What a direct message means, matched on the whole message once mentions, punctuation, accents
# and case are set aside: "count me in!" commits, "I'm coming to the picket, see you" does not
# (a message that says more is for people to read).
_COMING_WORDS = frozenset(
    {"im coming", "i am coming", "coming", "yes", "in", "im in", "count me in", "voy", "si"}
    | {"cuenta conmigo", "contad conmigo", "alli estare", "ahi estare", "vamos"}
)
_WITHDRAW_WORDS = frozenset(
    {"cancel", "cant", "i cant", "cannot", "i cannot", "cant come", "i cant come", "not coming"}
    | {"no puedo", "ya no", "ya no puedo", "no voy", "cancelar", "cancela"}
)
_MENTION = re.compile(r"(?<!\w)@[\w.-]+(?:@[\w.-]+)?")
_NOT_WORD = re.compile(r"[^\w\s]+")


def text(language: str, key: str, **values: object) -> str:
    table = _TEXT.get(language, _TEXT["en"])
    return table[key].format(**values)


def poll_options(language: str) -> tuple[str, str]:
    """(coming, cannot): the two answers, in the group's language."""
    return text(language, "coming"), text(language, "cannot")


def count_line(language: str, coming: int, needed: int) -> str:
    """ "12 of 20 coming: 8 more needed", or once reached "20 of 20 coming: thank you"."""
    missing = needed - coming
    key = "reached" if missing <= 0 else "short"
    return text(language, key, coming=coming, needed=needed, missing=missing)


def intent(message_text: str) -> Answer | None:
    """What a direct message about a call says: coming, withdrawn, or None (anything else)."""
    plain = _MENTION.sub(" ", message_text[:500])
    plain = unicodedata.normalize("NFKD", plain.replace("’", "'").replace("'", ""))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    words = " ".join(_NOT_WORD.sub(" ", plain).split())
    if words in _COMING_WORDS:
        return Answer.COMING
    if words in _WITHDRAW_WORDS:
        return Answer.WITHDRAWN
    return None


def vote(obj: dict[str, Any], question_uri: str, language: str) -> Answer | None:
    """A poll vote for this question: coming, withdrawn ("I can't"), or None when it is not one.

    Either language's option names count, so a poll answered after the group changed language
    still works."""
    if not has_type(obj, "Note") or id_of(obj.get("inReplyTo")) != question_uri:
        return None
    name = first(obj.get("name"))
    if not isinstance(name, str):
        return None
    for lang in (language, *LANGUAGES):
        coming, cannot = poll_options(lang)
        if name.strip() == coming:
            return Answer.COMING
        if name.strip() == cannot:
            return Answer.WITHDRAWN
    return None


def question(
    *,
    uri: str,
    call_uri: str,
    group_uri: str,
    to: list[str],
    cc: list[str],
    language: str,
    title: str,
    when: str,
    starts_at: datetime,
    published: datetime,
    coming: int,
    cannot: int,
    updated: datetime | None = None,
) -> dict[str, Any]:
    """The group's poll accompanying a call: a reply to it, addressed like it, closing when the
    call starts. Its tallies are counts only, never who."""
    yes, no = poll_options(language)
    content = f"<p>{escape(text(language, 'question', title=title, when=when), quote=False)}</p>"
    document: dict[str, Any] = {
        "@context": [AS_CONTEXT, copy.deepcopy(POLICY_TERMS)],
        "id": uri,
        "type": "Question",
        "attributedTo": group_uri,
        "to": to,
        "cc": cc,
        "inReplyTo": call_uri,
        "published": _iso(published),
        "content": content,
        "contentMap": {language: content},
        "endTime": _iso(starts_at),
        "votersCount": coming + cannot,
        "oneOf": [
            {"type": "Note", "name": yes, "replies": {"type": "Collection", "totalItems": coming}},
            {"type": "Note", "name": no, "replies": {"type": "Collection", "totalItems": cannot}},
        ],
    }
    document["interactionPolicy"] = published_policy(
        author_uri=group_uri, group_uri=group_uri, audience=[PUBLIC] if PUBLIC in to else to + cc
    )
    if updated is not None:
        document["updated"] = _iso(updated)
    if starts_at <= (updated or published):
        document["closed"] = _iso(starts_at)
    return document


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
