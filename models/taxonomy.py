"""The shared taxonomy: what an item's category means across instances.

Every instance publishes the default categories as one SKOS concept scheme at /taxonomy.
Each of its concepts is an exact match of a shared concept, named by `canonical(slug)`,
so that "food" on one instance is "food" on every other. A group's own category names
the default concept it narrows (`Category.broader`). A remote item's category is mapped
to a shared concept through its `broader` chain and kept in `RemoteItem.concept`.

The documents are JSON-LD with an inline context, so they expand without fetching anything.
Another server's documents are read in that compact form (our terms, `skos:` names or full
IRIs), not expanded against a remote context: fetching contexts is what this must not do.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import upsert, utcnow
from models.items import DEFAULT_CATEGORIES, Category, RemoteCategory, RemoteItem
from models.texts import LANGUAGES, N_, translations
from models.uris import Uris

if TYPE_CHECKING:  # the runtime imports the tables, which import matching, which imports this
    from models.runtime import Runtime

log = logging.getLogger("ayni.taxonomy")

# An identifier, not an address that is fetched: the same on every instance.
SHARED = "https://w3id.org/ayni/taxonomy"
DEFAULTS = frozenset(slug for slug, _ in DEFAULT_CATEGORIES)

SKOS = "http://www.w3.org/2004/02/skos/core#"
MEDIA_TYPE = "application/ld+json"
CONTEXT: dict[str, Any] = {
    "skos": SKOS,
    "id": "@id",
    "type": "@type",
    "Concept": "skos:Concept",
    "ConceptScheme": "skos:ConceptScheme",
    "prefLabel": {"@id": "skos:prefLabel", "@container": "@language"},
    "notation": "skos:notation",
    "broader": {"@id": "skos:broader", "@type": "@id"},
    "exactMatch": {"@id": "skos:exactMatch", "@type": "@id"},
    "inScheme": {"@id": "skos:inScheme", "@type": "@id"},
    "hasTopConcept": {"@id": "skos:hasTopConcept", "@type": "@id"},
}
SCHEME_NAME = N_("Mutual aid categories")


def canonical(slug: str) -> str:
    """The shared concept of a default category."""
    return f"{SHARED}#{slug}"


def concept_of(category: Category) -> str | None:
    """The shared concept a local category is, or narrows; None for a group's own category
    that names no default concept."""
    if category.broader is not None:
        return canonical(category.broader)
    if category.slug in DEFAULTS:
        return canonical(category.slug)
    return None


def is_general(category: Category) -> bool:
    """A default category itself (not a group's narrower one): it is met by items of its
    concept or of any concept narrower than it."""
    return category.broader is None and category.slug in DEFAULTS


# --- which items a category filter lists (the board, `ayni items --category`) ---


def slug_of(category_uri: str | None) -> str | None:
    """A remote category's own name, from its URI: the fragment (`…/taxonomy#food`) or the last
    path segment (`…/categories/food`)."""
    uri = category_uri or ""
    base, _, fragment = uri.partition("#")
    return fragment or base.rstrip("/").rsplit("/", 1)[-1] or None


def listed_under(slug: str, own_slug: str | None, concept: str | None) -> bool:
    """The one rule of a category filter: an item is listed under `slug` when its category is
    called so, or is (or narrows) that default concept wherever it was posted."""
    return own_slug == slug or concept == canonical(slug)


def local_listed_under(slug: str) -> ColumnElement[bool]:
    """`listed_under` for our own categories, as SQL (`concept_of` is broader or own slug)."""
    return or_(Category.slug == slug, Category.broader == slug)


# --- the documents we serve ---


def labels(name: str) -> dict[str, str]:
    """A default name in every language of the catalogues."""
    return {language: translations(language).gettext(name) for language in LANGUAGES}


def scheme_document(uris: Uris) -> dict[str, Any]:
    """/taxonomy: the default categories, each an exact match of its shared concept."""
    scheme = uris.taxonomy()
    return {
        "@context": CONTEXT,
        "id": scheme,
        "type": "ConceptScheme",
        "prefLabel": labels(SCHEME_NAME),
        "hasTopConcept": [
            {
                "id": uris.concept(slug),
                "type": "Concept",
                "prefLabel": labels(name),
                "notation": slug,
                "inScheme": scheme,
                "exactMatch": canonical(slug),
            }
            for slug, name in DEFAULT_CATEGORIES
        ],
    }


def category_document(uris: Uris, category: Category, language: str) -> dict[str, Any]:
    """A group's category at its URI: a concept narrowing one of ours (a default category
    narrows its own concept in the scheme). `language`: the group's, its own names' language."""
    general = is_general(category)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": category.uri,
        "type": "Concept",
        "prefLabel": labels(category.name) if general else {language: category.name},
        "notation": category.slug,
        "inScheme": uris.taxonomy(),
    }
    broader = category.slug if general else category.broader
    if broader is not None:
        document["broader"] = uris.concept(broader)
    return document


# --- mapping another server's category ---

MAX_HOPS = 4  # documents read from a category to its shared concept, at most
MAX_NODES = 200  # nodes of one document looked through for the one named
ACCEPT = f"{MEDIA_TYPE}, application/activity+json;q=0.9, application/json;q=0.8"
REFRESH = timedelta(days=7)  # a mapped category is read again after this
RETRY = timedelta(days=1)  # one that could not be read or mapped, after this
BUDGET = 20.0  # seconds of fetching per round of the periodic job, at most
BATCH = 50  # category URIs per round, at most

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


class Unmapped(ValueError):
    """The category's documents were read and lead to no shared concept."""


def shared(uri: object) -> str | None:
    """`uri` itself when it is the shared concept of a default category."""
    if isinstance(uri, str) and uri.startswith(SHARED + "#") and uri[len(SHARED) + 1 :] in DEFAULTS:
        return uri
    return None


def _id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id", value.get("@id"))
    return value if isinstance(value, str) else None


def _links(node: dict[str, Any], term: str) -> list[str]:
    """The IRIs a node gives for a SKOS term, however the document spells the term."""
    found: list[str] = []
    for key in (term, f"skos:{term}", SKOS + term):
        value = node.get(key)
        for entry in value if isinstance(value, list) else [value]:
            if (uri := _id(entry)) is not None:
                found.append(uri)
    return found


def node_in(document: dict[str, Any], uri: str) -> dict[str, Any] | None:
    """The node of `document` whose id is `uri`: the document itself, or one in its `@graph`
    or among its top concepts."""
    nodes: list[Any] = [document]
    for key in ("@graph", "hasTopConcept", "skos:hasTopConcept"):
        value = document.get(key)
        nodes += value if isinstance(value, list) else [value]
    return next(
        (node for node in nodes[:MAX_NODES] if isinstance(node, dict) and _id(node) == uri), None
    )


async def resolve(uri: str, fetch: Fetch) -> str:
    """The shared concept that `uri` (a category or concept) is or narrows: its `exactMatch`,
    else its `broader`'s, and so on, over at most MAX_HOPS documents, never twice the same,
    only http(s). A fragment names a node of the document without it. Unmapped when the chain
    ends elsewhere; the fetch's own errors pass through."""
    seen: set[str] = set()
    current = uri
    while (found := shared(current)) is None:
        if current in seen:
            raise Unmapped(f"{current} is its own broader concept (a loop)")
        if len(seen) == MAX_HOPS:
            raise Unmapped(f"no shared concept within {MAX_HOPS} documents")
        if not current.startswith(("https://", "http://")):
            raise Unmapped(f"{current[:200]!r} is not an http(s) URI")
        seen.add(current)
        node = node_in(await fetch(current.partition("#")[0]), current)
        if node is None:
            raise Unmapped(f"{current} is not in the document at its address")
        found = next((s for s in map(shared, _links(node, "exactMatch")) if s is not None), None)
        if found is not None:
            break
        broader = _links(node, "broader")
        if not broader:
            raise Unmapped(f"{current} has no broader concept")
        current = broader[0]
    return found


async def map_due(runtime: "Runtime", now: datetime | None = None) -> int:
    """One round of the periodic job: read the categories of remote items not mapped yet (or
    due again), each once, outside any transaction and within BUDGET seconds, and give their
    items the concept found. How many categories were mapped."""
    now = now or utcnow()
    async with runtime.sessions() as session, session.begin():
        await _catch_up(session)
        due = await _due(session, now)
    if not due:
        return 0
    documents: dict[str, dict[str, Any] | Exception] = {}  # one fetch per document per round

    async def fetch(url: str) -> dict[str, Any]:
        if url not in documents:
            try:
                documents[url] = await runtime.fetch_json(url, ACCEPT)
            except Exception as e:  # noqa: BLE001  kept, and raised for each category that needs it
                documents[url] = e
        found = documents[url]
        if isinstance(found, Exception):
            raise found
        return found

    results: dict[str, str | Exception] = {}
    uri = due[0]
    try:
        async with asyncio.timeout(BUDGET):
            for uri in due:
                try:
                    results[uri] = await resolve(uri, fetch)
                except Exception as e:  # noqa: BLE001  one per category: recorded on its row
                    results[uri] = e
    except TimeoutError:
        # The one being read failed (so that a slow server cannot hold every round); the rest
        # wait for the next round.
        results[uri] = TimeoutError(f"not read within the round's {BUDGET:g} s")
    async with runtime.sessions() as session, session.begin():
        for uri, result in results.items():
            await _record(session, uri, result, now)
    return sum(isinstance(result, str) for result in results.values())


async def _due(session: AsyncSession, now: datetime) -> list[str]:
    known = select(RemoteCategory.uri).where(RemoteCategory.next_attempt_at > now)
    rows = await session.scalars(
        select(RemoteItem.category_uri)
        .where(RemoteItem.category_uri.is_not(None), RemoteItem.category_uri.not_in(known))
        .distinct()
        .limit(BATCH)
    )
    return [uri for uri in rows if uri]


async def _catch_up(session: AsyncSession) -> None:
    """Items stored while their category was being mapped get its concept (no fetch)."""
    mapped = RemoteCategory.concept.is_not(None)
    concept = (
        select(RemoteCategory.concept)
        .where(RemoteCategory.uri == RemoteItem.category_uri)
        .scalar_subquery()
    )
    await session.execute(
        update(RemoteItem)
        .where(
            RemoteItem.concept.is_(None),
            RemoteItem.category_uri.in_(select(RemoteCategory.uri).where(mapped)),
        )
        .values(concept=concept)
        .execution_options(synchronize_session=False)
    )


async def _record(session: AsyncSession, uri: str, result: str | Exception, now: datetime) -> None:
    row: dict[str, Any] = {"uri": uri, "checked_at": now}
    if isinstance(result, str):
        row |= {"concept": result, "next_attempt_at": now + REFRESH, "last_error": None}
        await upsert(session, RemoteCategory, row, key="uri", update=list(row)[1:])
        await session.execute(
            update(RemoteItem)
            .where(RemoteItem.category_uri == uri)
            .values(concept=result)
            .execution_options(synchronize_session=False)
        )
        return
    # A failure keeps what was found before: a server down for a day unmaps nothing.
    error = f"{type(result).__name__}: {result}"[:500]
    log.info("category %s not mapped: %s", uri, error)
    row |= {"concept": None, "next_attempt_at": now + RETRY, "last_error": error}
    await upsert(
        session,
        RemoteCategory,
        row,
        key="uri",
        update=["checked_at", "next_attempt_at", "last_error"],
    )
