"""The inbox route (shared and per actor): read (1 MB), parse, refuse blocked domains, verify,
store, 202.

Nothing here acts on an activity; the worker does, later. The only network I/O a request can
cause is the signer's key fetch, and never for a blocked domain.
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ayni.requests import claimed_key_id, url_as_received
from federation import signatures, vocab
from federation.errors import InvalidDocument, SignatureError
from inbox.store import Batcher
from models import actors
from models.actors import ActorType
from models.remote import RemoteActor
from models.runtime import Runtime

log = logging.getLogger("ayni.inbox")

MAX_BODY = 1024 * 1024
MAX_URI = 2048


@dataclass
class InboxState:
    """Per-instance state of the route, built on first use from the app's runtime."""

    runtime: Runtime
    batcher: Batcher


def inbox_state(request: Request) -> InboxState:
    state: InboxState | None = getattr(request.app.state, "inbox", None)
    if state is None:
        runtime: Runtime = request.app.state.runtime
        state = InboxState(
            runtime,
            Batcher(runtime.sessions, postgres=not runtime.settings.is_sqlite),
        )
        request.app.state.inbox = state
    return state


async def shared_inbox(request: Request) -> Response:
    return await receive(request, None)


async def actor_inbox(request: Request) -> Response:
    # Looked up every time, not remembered: an account deleted by another process (the CLI)
    # must answer 410 here at once, not take deliveries for a row that is gone.
    state = inbox_state(request)
    name = str(request.path_params.get("name", ""))
    async with state.runtime.sessions() as session:
        if name:
            actor = await actors.find_actor(session, name)
            found = actor if actor is not None and actor.type != ActorType.APPLICATION else None
        else:
            found = await actors.instance_actor(session)
    if found is None or (name and found.username != name):
        return PlainTextResponse("no such actor", status_code=404)
    if found.type == ActorType.GONE:  # a deleted member's: nothing is kept for her now
        return PlainTextResponse("gone", status_code=410)
    return await receive(request, found.id)


async def receive(request: Request, recipient_id: int | None) -> Response:
    state = inbox_state(request)
    runtime = state.runtime
    metrics = runtime.metrics
    body = await _read_capped(request)
    if body is None:
        metrics.inbox_refused("too_large")
        return PlainTextResponse("body larger than 1 MB", status_code=413)
    try:
        document = vocab.parse_activity(body)
    except InvalidDocument as error:
        metrics.inbox_refused("bad_activity")
        return PlainTextResponse(f"bad activity: {error}", status_code=400)
    actor_uri = vocab.id_of(document.get("actor"))
    types = vocab.types_of(document)
    if actor_uri is None or len(actor_uri) > MAX_URI or not types:
        metrics.inbox_refused("bad_activity")
        return PlainTextResponse("bad activity: it needs an actor and a type", status_code=400)
    activity_uri = vocab.id_of(document.get("id"))
    if activity_uri is not None and len(activity_uri) > MAX_URI:
        metrics.inbox_refused("bad_activity")
        return PlainTextResponse("bad activity: id too long", status_code=400)

    key_id = claimed_key_id(request)
    if await runtime.blocklist.blocks(vocab.host_of(actor_uri), vocab.host_of(key_id)):
        metrics.inbox_refused("blocked")
        return PlainTextResponse("domain blocked", status_code=403)
    if _deletes_itself(document, actor_uri) and not await _knows(runtime, actor_uri):
        # Mastodon sends these to every server it ever saw; fetching the key would only 410.
        metrics.inbox_refused("unknown_actor_deleted")
        return Response(status_code=202)

    try:
        signed_by = await signatures.verify(
            "POST", url_as_received(runtime, request), request.headers, body, runtime.key_resolver
        )
        owner = runtime.key_resolver.owner_of(signed_by)
    except SignatureError as error:
        log.info("inbox: refused %s from %s: %s", types[0], actor_uri, error)
        metrics.inbox_refused("signature")
        return PlainTextResponse(f"signature not accepted: {error}", status_code=401)
    except SQLAlchemyError as error:  # the key could not be read or stored: the sender will retry
        log.warning("inbox: could not look up the key for %s: %s", actor_uri, error)
        metrics.inbox_refused("unavailable")
        return PlainTextResponse("try again later", status_code=503)
    if owner != actor_uri:
        log.info("inbox: refused %s: signed by %s for actor %s", types[0], owner, actor_uri)
        metrics.inbox_refused("signer_mismatch")
        return PlainTextResponse("signer and actor do not match", status_code=401)

    row: dict[str, Any] = {
        # No id (some transient activities): the body's hash still dedupes a replay.
        "activity_uri": activity_uri or "urn:sha256:" + hashlib.sha256(body).hexdigest(),
        "activity_type": types[0][:64],
        "actor_uri": actor_uri,
        "document": document,
        "recipient_id": recipient_id,
    }
    try:
        await state.batcher.add(row)
    except Exception as error:  # noqa: BLE001  the database is down or full: the sender will retry
        log.warning("inbox: could not store %s: %s", row["activity_uri"], error)
        metrics.inbox_refused("unavailable")
        return PlainTextResponse("try again later", status_code=503)
    metrics.inbox_received()
    return Response(status_code=202)


async def _read_capped(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        return b""
    return b"".join(chunks)


def _deletes_itself(document: dict[str, Any], actor_uri: str) -> bool:
    return vocab.has_type(document, "Delete") and vocab.id_of(document.get("object")) == actor_uri


async def _knows(runtime: Runtime, actor_uri: str) -> bool:
    async with runtime.sessions() as session:
        return (
            await session.scalar(select(RemoteActor.id).where(RemoteActor.uri == actor_uri))
            is not None
        )


routes = [
    Route("/inbox", shared_inbox, methods=["POST"]),
    Route("/actor/inbox", actor_inbox, methods=["POST"]),
    Route("/actors/{name}/inbox", actor_inbox, methods=["POST"]),
]
