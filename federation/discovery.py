"""WebFinger, host-meta and NodeInfo: the documents we serve, and finding a remote actor by handle.

Pure: the server routes pass in values and serialise what comes back; `resolve` reaches the
network only through the `get_json` callable it is given.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from federation.errors import InvalidDocument
from federation.vocab import ACTIVITY_JSON, host_of, is_activity_media_type

PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
NODEINFO_SCHEMA_PREFIX = "http://nodeinfo.diaspora.software/ns/schema/"
NODEINFO_REL = f"{NODEINFO_SCHEMA_PREFIX}2.1"
NODEINFO_SCHEMA_VERSION = "2.1"
SOFTWARE_NAME = "ayni"

# Liberal on purpose: remote names may carry dots and dashes, and the instance actor's name
# is its host (with a port in development), as Mastodon's is.
_NAME = re.compile(r"[A-Za-z0-9_.~\-]+(?::\d{1,5})?", re.ASCII)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?(?::\d{{1,5}})?", re.ASCII)
_IPV6_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")

GetJson = Callable[[str], Awaitable[Any]]


def webfinger_document(
    subject: str,
    aliases: list[str],
    actor_uri: str,
    profile_url: str | None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The JRD for one local actor. Mastodon requires the self href to equal the actor id byte
    for byte, so `actor_uri` is used exactly as given."""
    links: list[dict[str, str]] = []
    if profile_url:
        links.append({"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url})
    links.append({"rel": "self", "type": ACTIVITY_JSON, "href": actor_uri})
    base = (base_url or _origin(actor_uri)).rstrip("/")
    links.append({"rel": SUBSCRIBE_REL, "template": f"{base}/authorize_interaction?uri={{uri}}"})
    return {"subject": subject, "aliases": list(dict.fromkeys(aliases)), "links": links}


def parse_resource(resource: str, host: str | None = None) -> tuple[str, str]:
    """A WebFinger `resource` as (name, host), both lowercased.

    Accepts `acct:name@host`, `name@host` and `@name@host` (Mastodon makes `acct:` optional);
    an http(s) URL comes back as (url unchanged, its host) for the caller to match against
    actor ids. Raises ValueError when malformed or missing; when `host` is given, a resource on
    another host raises LookupError (a well-formed question about someone we do not serve).
    """
    if not isinstance(resource, str) or not resource.strip():
        raise ValueError("missing resource")
    resource = resource.strip()
    if resource.lower().startswith(("http://", "https://")):
        found = host_of(resource)
        if found is None:
            raise ValueError("resource URL has no host")
        name = resource
    else:
        name, found = _split_handle(resource)
        name = name.lower()
    if host is not None and found != _normal_host(host):
        raise LookupError(f"{found} is not this server")
    return name, found


def parse_handle(handle: str) -> tuple[str, str]:
    """`@name@host`, `!community@host`, `name@host` or `acct:name@host` as (name, host); host
    lowercased, the name kept as written since the remote server decides whether its names are
    case-sensitive."""
    if not isinstance(handle, str):
        raise TypeError("handle must be a string")
    return _split_handle(handle.strip())


def webfinger_url(handle: str, scheme: str = "https") -> str:
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {scheme!r}")
    name, host = parse_handle(handle)
    return f"{scheme}://{host}/.well-known/webfinger?resource=acct:{name}@{host}"


async def resolve(handle: str, get_json: GetJson, scheme: str = "https") -> str:
    """The actor id a handle's WebFinger points to (the rel=self AS2 link).

    Raises ValueError for a malformed handle, InvalidDocument for an unusable answer; errors
    from `get_json` (FetchError and the like) pass through unchanged.
    """
    document = await get_json(webfinger_url(handle, scheme))
    return self_link(document)


def self_link(document: object) -> str:
    """The href of a JRD's rel=self link of an AS2 type; InvalidDocument when there is none."""
    if not isinstance(document, dict):
        raise InvalidDocument("WebFinger answer is not a JSON object")
    links = document.get("links")
    if not isinstance(links, list):
        raise InvalidDocument("WebFinger answer has no links")
    for link in links:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        href = link.get("href")
        if is_activity_media_type(link.get("type")) and isinstance(href, str) and _is_web_url(href):
            return href
    raise InvalidDocument("WebFinger answer has no ActivityPub self link")


def subscribe_template(document: object) -> str | None:
    """The OStatus subscribe template of a JRD (Mastodon:
    `https://host/authorize_interaction?uri={uri}`, Misskey: `.../authorize-follow?acct={uri}`):
    where a visitor's own server lets them follow someone they found elsewhere. None when the
    answer has no usable one; the caller still checks the template's scheme and host before
    sending anyone there."""
    links = document.get("links") if isinstance(document, dict) else None
    for link in links[:50] if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != SUBSCRIBE_REL:
            continue
        template = link.get("template")
        if (
            isinstance(template, str)
            and len(template) <= 2048
            and "{uri}" in template
            and _is_web_url(template)
        ):
            return template
    return None


def parse_host(text: str) -> str:
    """A bare server name (`example.social`, `127.0.0.1:8101`), lowercased; ValueError otherwise."""
    if not isinstance(text, str) or not (_HOST.fullmatch(text) or _IPV6_HOST.fullmatch(text)):
        raise ValueError(f"not a server name: {str(text)[:100]!r}")
    return _normal_host(text)


def host_meta_xml(base_url: str) -> str:
    template = f"{base_url.rstrip('/')}/.well-known/webfinger?resource={{uri}}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )


def nodeinfo_url(host: str, scheme: str = "https") -> str:
    return f"{scheme}://{host}/.well-known/nodeinfo"


def lists_nodeinfo(document: object) -> bool:
    """Whether a `/.well-known/nodeinfo` answer links a NodeInfo schema document, as every
    fediverse server's does (Mastodon, Misskey, Lemmy, GoToSocial, Pleroma, Friendica...)."""
    links = document.get("links") if isinstance(document, dict) else None
    return any(
        isinstance(link, dict)
        and isinstance(link.get("rel"), str)
        and link["rel"].startswith(NODEINFO_SCHEMA_PREFIX)
        and isinstance(link.get("href"), str)
        for link in (links[:20] if isinstance(links, list) else [])
    )


def nodeinfo_links(base_url: str) -> dict[str, Any]:
    return {"links": [{"rel": NODEINFO_REL, "href": f"{base_url.rstrip('/')}/nodeinfo/2.1"}]}


def nodeinfo_document(
    version: str,
    users_total: int,
    users_active_month: int,
    users_active_halfyear: int,
    local_posts: int,
    open_registrations: bool = False,
    metadata: dict[str, Any] | None = None,
    repository: str | None = None,
    homepage: str | None = None,
) -> dict[str, Any]:
    """A NodeInfo 2.1 document; ValueError for values the schema would reject."""
    if not isinstance(version, str) or not version:
        raise ValueError("software version is required")
    counts = {
        "users_total": users_total,
        "users_active_month": users_active_month,
        "users_active_halfyear": users_active_halfyear,
        "local_posts": local_posts,
    }
    for field, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{field} must be a non-negative integer")
    software: dict[str, str] = {"name": SOFTWARE_NAME, "version": version}
    if repository:
        software["repository"] = repository
    if homepage:
        software["homepage"] = homepage
    return {
        "version": NODEINFO_SCHEMA_VERSION,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": bool(open_registrations),
        "usage": {
            "users": {
                "total": users_total,
                "activeMonth": users_active_month,
                "activeHalfyear": users_active_halfyear,
            },
            "localPosts": local_posts,
        },
        "metadata": dict(metadata or {}),
    }


def _split_handle(text: str) -> tuple[str, str]:
    if text[:5].lower() == "acct:":
        text = text[5:]
    elif text.startswith(("@", "!")):  # "!community@host": how Lemmy and Mbin write a community
        text = text[1:]
    name, at, host = text.partition("@")
    if not at or not name or not host:
        raise ValueError(f"not a handle of the form name@host: {text[:100]!r}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid name in handle: {name[:100]!r}")
    if not (_HOST.fullmatch(host) or _IPV6_HOST.fullmatch(host)):
        raise ValueError(f"invalid host in handle: {host[:100]!r}")
    return name, _normal_host(host)


def _normal_host(host: str) -> str:
    host = host.strip().lower()
    hostname, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return f"{hostname.rstrip('.')}:{port}"
    return host.rstrip(".")


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _is_web_url(uri: str) -> bool:
    return uri.lower().startswith(("https://", "http://")) and host_of(uri) is not None
