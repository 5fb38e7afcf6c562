"""ActivityStreams 2.0 as servers actually send it.

AS2 lets almost every property be a string, an object or an array of either; these small helpers
absorb that so handlers can ask plain questions. None of them raises on any JSON value.
"""

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from federation.jsonbody import parse_activity

__all__ = [
    "ACTIVITY_JSON",
    "ACTOR_TYPES",
    "AS_CONTEXT",
    "AS_NAMESPACE",
    "LD_JSON",
    "PUBLIC",
    "SECURITY_CONTEXT",
    "accepts_activity_json",
    "addresses_public",
    "as_list",
    "attributed_to",
    "audience_of",
    "content_html",
    "first",
    "has_type",
    "host_of",
    "id_of",
    "ids_of",
    "is_activity_media_type",
    "is_public",
    "parse_activity",
    "same_origin",
    "types_of",
]

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
AS_NAMESPACE = AS_CONTEXT + "#"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = AS_NAMESPACE + "Public"
ACTIVITY_JSON = "application/activity+json"
LD_JSON = f'application/ld+json; profile="{AS_CONTEXT}"'

ACTOR_TYPES = frozenset({"Person", "Group", "Service", "Application", "Organization"})
# JSON-LD compaction with other contexts (or none) can leave these spellings of the collection.
_PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})
_ADDRESSING = ("to", "cc", "bto", "bcc", "audience")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Misskey's quote (also Sharkey, Iceshrimp), Fedibird's, and FEP-044f's.
_QUOTE_FIELDS = ("quoteUrl", "_misskey_quote", "quoteUri", "quote")


def as_list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def first(value: object) -> Any:
    items = as_list(value)
    return items[0] if items else None


def id_of(value: object) -> str | None:
    """The identifier of a reference: the string itself, or an embedded object's `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and value.strip():
        return value
    return None


def ids_of(value: object) -> list[str]:
    return [uri for uri in map(id_of, as_list(value)) if uri is not None]


def types_of(obj: object) -> list[str]:
    """The object's types as plain AS2 names (`as:Note` and full IRIs are shortened)."""
    if not isinstance(obj, dict):
        return []
    names: list[str] = []
    for name in as_list(obj.get("type")):
        if not isinstance(name, str):
            continue
        if name.startswith(AS_NAMESPACE):
            name = name[len(AS_NAMESPACE) :]
        elif name.startswith("as:"):
            name = name[3:]
        if name:
            names.append(name)
    return names


def has_type(obj: object, *names: str) -> bool:
    return not set(types_of(obj)).isdisjoint(names)


def content_html(obj: object) -> str:
    """The object's text as (unsanitised) HTML: `content`, else a `contentMap` entry, else the
    plain text Misskey and its forks keep beside an empty `content` (`_misskey_content`,
    `source.content`), else a link to the post it quotes. "" when there is none of these."""
    if not isinstance(obj, dict):
        return ""
    for value in (first(obj.get("content")), *_values(obj.get("contentMap"))):
        if isinstance(value, str) and value.strip():
            return value
    source = obj.get("source")
    for text in (
        obj.get("_misskey_content"),
        source.get("content") if isinstance(source, dict) else None,
    ):
        if isinstance(text, str) and text.strip():
            return "<p>" + html.escape(text.strip()).replace("\n", "<br>") + "</p>"
    quoted = next((uri for f in _QUOTE_FIELDS if (uri := id_of(first(obj.get(f))))), None)
    if quoted is not None and quoted.startswith(("https://", "http://")):
        link = html.escape(quoted)
        return f'<p>RE: <a href="{link}">{link}</a></p>'
    return ""


def _values(language_map: object) -> list[object]:
    return list(language_map.values()) if isinstance(language_map, dict) else []


def is_public(uri: object) -> bool:
    return isinstance(uri, str) and uri in _PUBLIC_FORMS


def audience_of(obj: object) -> set[str]:
    """Every uri addressed by to/cc/bto/bcc/audience; any spelling of Public becomes PUBLIC."""
    if not isinstance(obj, dict):
        return set()
    uris: set[str] = set()
    for field in _ADDRESSING:
        for uri in ids_of(obj.get(field)):
            uris.add(PUBLIC if is_public(uri) else uri)
    return uris


def addresses_public(obj: object) -> bool:
    return PUBLIC in audience_of(obj)


def attributed_to(obj: object) -> list[str]:
    """The actor uris an object is attributed to, actors first-class.

    PeerTube and others mix actors with other things (channels as Group, Links); when some entries
    are typed as actors, typed non-actor entries are dropped; untyped references are kept.
    """
    if not isinstance(obj, dict):
        return []
    entries = as_list(obj.get("attributedTo"))
    actors = [e for e in entries if not _typed(e) or has_type(e, *ACTOR_TYPES)]
    return _unique(ids_of(actors) or ids_of(entries))


def _typed(entry: object) -> bool:
    return isinstance(entry, dict) and bool(types_of(entry))


def _unique(uris: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(uris))


def host_of(uri: object) -> str | None:
    """Lowercased host[:port] of a URL, default ports dropped; None when there is none."""
    if not isinstance(uri, str):
        return None
    try:
        parts = urlsplit(uri.strip())
        hostname = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not hostname:
        return None
    hostname = hostname.rstrip(".")
    if ":" in hostname:
        hostname = f"[{hostname}]"
    scheme = parts.scheme.lower()
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return hostname
    return f"{hostname}:{port}"


def same_origin(a: object, b: object) -> bool:
    """Same scheme and host (and port): the origin rule for who may speak for an id."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    host = host_of(a)
    if host is None or host != host_of(b):
        return False
    return _scheme(a) == _scheme(b)


def _scheme(uri: str) -> str:
    return uri.strip().partition(":")[0].lower()


def is_activity_media_type(content_type: object) -> bool:
    """Whether a Content-Type (or one Accept entry) names AS2 JSON."""
    if not isinstance(content_type, str):
        return False
    media_type, params = _media_range(content_type)
    if media_type == ACTIVITY_JSON:
        return True
    if media_type != "application/ld+json":
        return False
    profile = params.get("profile")
    # ld+json with no profile is what many implementations send; another profile is not AS2.
    return profile is None or AS_CONTEXT in profile.split()


def accepts_activity_json(accept: object) -> bool:
    """Content negotiation: serve AS2 JSON rather than HTML to this Accept header?

    Wildcards never count: browsers send `*/*` too, and they must get the page.
    On equal quality the type listed first wins.
    """
    if not isinstance(accept, str):
        return False
    best_as2: tuple[float, int] = (0.0, 0)
    best_html: tuple[float, int] = (0.0, 0)
    for position, entry in enumerate(accept.split(",")):
        media_type, params = _media_range(entry)
        quality = _quality(params.get("q"))
        rank = (quality, -position)
        if quality <= 0:
            continue
        if is_activity_media_type(entry):
            best_as2 = max(best_as2, rank)
        elif media_type in _HTML_TYPES:
            best_html = max(best_html, rank)
    return best_as2[0] > 0 and (best_html[0] == 0 or best_as2 > best_html)


def _media_range(text: str) -> tuple[str, dict[str, str]]:
    media_type, *raw_params = text.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, _, value = raw.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), params


def _quality(text: str | None) -> float:
    if text is None:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value <= 1.0 else 0.0
