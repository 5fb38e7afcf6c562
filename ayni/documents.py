"""Our activities and their objects, served at their ids, to those allowed to see them.

Public: to anyone. Followers-only and direct: only to a signed GET whose signer is addressed
(or, for followers-only, follows the author), or is the server of such an actor (Mastodon
fetches as its instance actor). Members-only: never, from outside. Otherwise 404, so that
nothing tells an outsider that the object exists.

With authorized fetch on, every GET here must be signed (401 otherwise) and a refused server's
signed GET gets 404 like a missing object.
"""

from typing import Any

from sqlalchemy import exists, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ayni.requests import require_signer, signer_of
from federation import vocab
from federation.visibility import Visibility
from models.follows import Direction, Follow, FollowState
from models.queue import Activity
from models.remote import RemoteActor
from models.runtime import Runtime


class ActivityResponse(JSONResponse):
    """An AS2 document: every route that serves one answers with this."""

    media_type = vocab.ACTIVITY_JSON


def not_found() -> Response:
    return Response("Not found", status_code=404)


async def may_see(request: Request, activity: Activity) -> bool:
    if activity.visibility == Visibility.PUBLIC:
        return True
    if activity.visibility not in (Visibility.FOLLOWERS, Visibility.DIRECT):
        return False
    signer = await signer_of(request)
    if signer is None:
        return False
    signer_host = vocab.host_of(signer)
    addressed = list((activity.audience or {}).get("actors") or [])
    if signer in addressed or signer_host in {vocab.host_of(uri) for uri in addressed}:
        return True
    if activity.visibility != Visibility.FOLLOWERS:
        return False
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        follows = await session.scalar(
            select(
                exists()
                .where(
                    Follow.local_actor_id == activity.actor_id,
                    Follow.direction == Direction.INBOUND,
                    Follow.state == FollowState.ACCEPTED,
                    Follow.remote_actor_id == RemoteActor.id,
                )
                .where((RemoteActor.uri == signer) | (RemoteActor.host == signer_host))
            )
        )
    return bool(follows)


async def activity_document(request: Request) -> Response:
    if isinstance(refusal := await require_signer(request, refused_status=404), Response):
        return refusal
    runtime: Runtime = request.app.state.runtime
    uri = runtime.uris.activity(request.path_params["id"])
    async with runtime.sessions() as session:
        activity = await session.scalar(select(Activity).where(Activity.uri == uri))
    if activity is None or not await may_see(request, activity):
        return not_found()
    return ActivityResponse(activity.document, headers={"Vary": "Accept, Signature"})


async def object_document(request: Request) -> Response:
    if isinstance(refusal := await require_signer(request, refused_status=404), Response):
        return refusal
    runtime: Runtime = request.app.state.runtime
    uri = runtime.uris.object(request.path_params["id"])
    async with runtime.sessions() as session:
        activity = await session.scalar(
            select(Activity)
            .where(Activity.object_uri == uri, Activity.type.in_(["Create", "Update", "Delete"]))
            .order_by(Activity.id.desc())
            .limit(1)
        )
    if activity is not None and activity.type == "Delete":
        # Taken back (a DM whose link was revoked): gone, and its text no longer served.
        tombstone = {"@context": vocab.AS_CONTEXT, "id": uri, "type": "Tombstone"}
        return ActivityResponse(tombstone, status_code=410)
    if activity is None or not isinstance(activity.document.get("object"), dict):
        return not_found()
    if not await may_see(request, activity):
        return not_found()
    document: dict[str, Any] = {"@context": activity.document.get("@context", vocab.AS_CONTEXT)}
    document.update(activity.document["object"])
    return ActivityResponse(document, headers={"Vary": "Accept, Signature"})


routes = [
    Route("/activities/{id}", activity_document),
    Route("/objects/{id}", object_document),
]
