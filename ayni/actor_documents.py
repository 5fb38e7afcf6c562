"""Actor documents and their collections, with content negotiation (AS2 JSON or an HTML page).

With authorized fetch on, the collections need a signed GET (401 unsigned, 403 for a refused
server). An actor's AS2 document fetched unsigned is the minimal one, enough to verify its
signatures and deliver to it, so that two servers in this mode can still fetch each other's keys;
a refused server's signed GET gets 403. The instance actor and the HTML pages stay public.
"""

from typing import Any

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni import documents, item_documents
from ayni.documents import ActivityResponse
from ayni.requests import UNSIGNED, require_signer
from ayni.web import flash, groups, render
from ayni.web.i18n import N_
from federation import actors as ap
from federation import vocab
from federation.visibility import Visibility
from models import actors, profiles
from models.actors import ActorType, LocalActor
from models.follows import Direction, Follow, FollowState
from models.queue import Activity
from models.remote import RemoteActor
from models.runtime import Runtime

PAGE_SIZE = 40


def wants_activity_json(request: Request) -> bool:
    return vocab.accepts_activity_json(request.headers.get("accept", ""))


async def _local_actor(request: Request) -> LocalActor | None:
    runtime: Runtime = request.app.state.runtime
    name = request.path_params.get("name")
    async with runtime.sessions() as session:
        if name is None:
            return await actors.instance_actor(session)
        actor = await actors.find_actor(session, name)
    if actor is None or actor.type == ActorType.APPLICATION or actor.username != name:
        return None
    return actor


async def _pictured(runtime: Runtime, actor: LocalActor) -> ap.ActorValues:
    async with runtime.sessions() as session:
        return await profiles.pictured(session, runtime, actor)


NO_SUCH_ACTOR = N_("There is no such group or member here.")
ACCOUNT_GONE = N_("This account was deleted.")


def _gone(request: Request, actor: LocalActor) -> Response:
    """A deleted member's actor, profile and collections (models.accounts): gone for good."""
    runtime: Runtime = request.app.state.runtime
    if wants_activity_json(request):
        uri = runtime.uris.actor(actor.username)
        tombstone = {"@context": vocab.AS_CONTEXT, "id": uri, "type": "Tombstone"}
        return ActivityResponse(tombstone, status_code=410)
    raise HTTPException(410, ACCOUNT_GONE)  # the error page for a browser, "…" for others


async def actor_document(request: Request) -> Response:
    actor = await _local_actor(request)
    if actor is None:
        return Response("Not found", status_code=404)
    if actor.type == ActorType.GONE:
        return _gone(request, actor)
    runtime: Runtime = request.app.state.runtime
    values = await _pictured(runtime, actor)
    if wants_activity_json(request):
        return await _as2(request, actor, ap.actor_to_ap(values))
    response = await _actor_page(request, runtime, actor, values)
    response.headers["Vary"] = "Accept"
    return response


async def service_document(request: Request) -> Response:
    """A group's companion Service; a browser is sent to the group's page."""
    actor = await _local_actor(request)
    if actor is None or actor.type != ActorType.GROUP:
        return Response("Not found", status_code=404)
    runtime: Runtime = request.app.state.runtime
    values = await _pictured(runtime, actor)
    if not wants_activity_json(request):
        return RedirectResponse(values.profile_url, status_code=302)
    return await _as2(request, actor, ap.service_to_ap(values, runtime.uris.service(values.uri)))


async def _as2(request: Request, actor: LocalActor, document: dict[str, Any]) -> Response:
    """An actor's document; under authorized fetch only its minimal form to an unsigned GET."""
    runtime: Runtime = request.app.state.runtime
    if actor.type == ActorType.APPLICATION or not runtime.settings.authorized_fetch:
        return ActivityResponse(document, headers={"Vary": "Accept"})
    headers = {"Vary": "Accept, Signature"}
    gate = await require_signer(request)
    if isinstance(gate, Response) and gate.status_code == UNSIGNED:
        return ActivityResponse(ap.minimal(document), headers=headers)
    if isinstance(gate, Response):
        return gate
    return ActivityResponse(document, headers=headers)


async def profile_page(request: Request) -> Response:
    actor = await _local_actor(request)
    if actor is None:
        raise HTTPException(404, NO_SUCH_ACTOR)
    if actor.type == ActorType.GONE:
        return _gone(request, actor)
    runtime: Runtime = request.app.state.runtime
    if wants_activity_json(request):
        return RedirectResponse(runtime.uris.actor(actor.username), status_code=302)
    return await _actor_page(request, runtime, actor, await _pictured(runtime, actor))


async def _actor_page(
    request: Request, runtime: Runtime, actor: LocalActor, values: ap.ActorValues
) -> Response:
    context: dict[str, Any] = {
        "actor": actor,
        "values": values,
        "host": runtime.settings.host,
        "flash": flash.take(request),
    }
    if actor.type == ActorType.GROUP:
        context.update(await groups.page_context(request, runtime, actor))
    elif actor.type == ActorType.PERSON:
        context.update(await groups.profile_context(runtime, actor))
    response = render(request, "actor.html", context)
    if context.get("members_view"):  # it lists items that are not public
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _page_number(request: Request) -> int | None:
    raw = request.query_params.get("page")
    if raw is None:
        return None
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


async def _collection(request: Request, uri: str, total: int, items: list[Any] | None) -> Response:
    """`items` None means the contents are hidden: only the count is public."""
    page = _page_number(request)
    if items is None or page is None:
        first = f"{uri}?page=1" if items is not None else None
        return ActivityResponse(ap.collection(uri, total, first))
    start = (page - 1) * PAGE_SIZE
    chunk = items[start : start + PAGE_SIZE]
    next_uri = f"{uri}?page={page + 1}" if start + PAGE_SIZE < total else None
    prev_uri = f"{uri}?page={page - 1}" if page > 1 else None
    return ActivityResponse(
        ap.collection_page(f"{uri}?page={page}", uri, chunk, next_uri, prev_uri)
    )


async def _collection_owner(request: Request) -> LocalActor | Response:
    """The actor whose collection is asked for, or the refusal (unsigned under authorized
    fetch, refused signer, no such actor)."""
    if isinstance(refusal := await require_signer(request), Response):
        return refusal
    actor = await _local_actor(request)
    if actor is not None and actor.type == ActorType.GONE:
        return _gone(request, actor)
    return Response("Not found", status_code=404) if actor is None else actor


async def outbox(request: Request) -> Response:
    """Public activities only, newest first; followers-only, direct and members-only never."""
    actor = await _collection_owner(request)
    if isinstance(actor, Response):
        return actor
    runtime: Runtime = request.app.state.runtime
    uri = runtime.uris.outbox(profiles.actor_values(runtime, actor).uri)
    public = (Activity.actor_id == actor.id, Activity.visibility == Visibility.PUBLIC)
    page = _page_number(request)
    async with runtime.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Activity).where(*public)) or 0
        if page is None:
            return ActivityResponse(ap.collection(uri, total, f"{uri}?page=1"))
        documents = await session.scalars(
            select(Activity.document)
            .where(*public)
            .order_by(Activity.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
        items: list[Any] = list(documents)
    next_uri = f"{uri}?page={page + 1}" if page * PAGE_SIZE < total else None
    prev_uri = f"{uri}?page={page - 1}" if page > 1 else None
    return ActivityResponse(
        ap.collection_page(f"{uri}?page={page}", uri, items, next_uri, prev_uri)
    )


async def followers(request: Request) -> Response:
    # Who follows a mutual-aid group can be sensitive: only the count is public.
    actor = await _collection_owner(request)
    if isinstance(actor, Response):
        return actor
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        total = await session.scalar(
            select(func.count())
            .select_from(Follow)
            .where(
                Follow.local_actor_id == actor.id,
                Follow.direction == Direction.INBOUND,
                Follow.state == FollowState.ACCEPTED,
            )
        )
    uri = runtime.uris.followers(profiles.actor_values(runtime, actor).uri)
    return await _collection(request, uri, total or 0, None)


async def following(request: Request) -> Response:
    actor = await _collection_owner(request)
    if isinstance(actor, Response):
        return actor
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(RemoteActor.uri)
            .join(Follow, Follow.remote_actor_id == RemoteActor.id)
            .where(
                Follow.local_actor_id == actor.id,
                Follow.direction == Direction.OUTBOUND,
                Follow.state == FollowState.ACCEPTED,
            )
            .order_by(Follow.id.desc())
        )
        items: list[Any] = list(rows)
    uri = runtime.uris.following(profiles.actor_values(runtime, actor).uri)
    return await _collection(request, uri, len(items), items)


async def featured(request: Request) -> Response:
    actor = await _collection_owner(request)
    if isinstance(actor, Response):
        return actor
    runtime: Runtime = request.app.state.runtime
    uri = runtime.uris.featured(profiles.actor_values(runtime, actor).uri)
    return ActivityResponse({**ap.collection(uri, 0, None), "orderedItems": []})


routes = [
    Route("/actor", actor_document),
    Route("/actor/outbox", outbox),
    Route("/actor/followers", followers),
    Route("/actor/following", following),
    Route("/actors/{name}", actor_document),
    Route("/actors/{name}/service", service_document),
    Route("/actors/{name}/outbox", outbox),
    Route("/actors/{name}/followers", followers),
    Route("/actors/{name}/following", following),
    Route("/actors/{name}/collections/featured", featured),
    Route("/@{name}", profile_page),
    *documents.routes,
    *item_documents.routes,
]
