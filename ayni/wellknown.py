"""Discovery: WebFinger, host-meta and NodeInfo."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ayni import __version__
from federation import discovery
from models import actors
from models.actors import ActorType
from models.runtime import Runtime

CORS = {"Access-Control-Allow-Origin": "*"}


class JRDResponse(JSONResponse):
    media_type = "application/jrd+json"


async def webfinger(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    resource = request.query_params.get("resource", "")
    try:
        name = _username(runtime, resource)
    except ValueError as e:
        return JSONResponse({"error": str(e)}, status_code=400, headers=CORS)
    async with runtime.sessions() as session:
        actor = await actors.find_actor(session, name) if name else None
    if actor is None:
        return JSONResponse({"error": "no such actor"}, status_code=404, headers=CORS)
    if actor.type == ActorType.GONE:
        return JSONResponse({"error": "this account was deleted"}, status_code=410, headers=CORS)
    uris = runtime.uris
    is_instance = actor.type == ActorType.APPLICATION
    actor_uri = uris.instance_actor() if is_instance else uris.actor(actor.username)
    profile = runtime.settings.base_url if is_instance else uris.profile(actor.username)
    document = discovery.webfinger_document(
        f"acct:{actor.username}@{runtime.settings.host}",
        [actor_uri, profile],
        actor_uri,
        profile,
        runtime.settings.base_url,
    )
    return JRDResponse(document, headers=CORS)


def _username(runtime: Runtime, resource: str) -> str | None:
    """The local name a resource names, or None when it names nothing of ours."""
    uris = runtime.uris
    if resource.startswith(("http://", "https://")):
        if resource == uris.instance_actor():
            return runtime.settings.host
        for prefix in (uris.actor(""), uris.profile("")):
            if resource.startswith(prefix) and "/" not in resource[len(prefix) :]:
                return resource[len(prefix) :] or None
        return None
    name, host = discovery.parse_resource(resource)
    return name if host == runtime.settings.host.lower() else None


async def host_meta(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(
        discovery.host_meta_xml(runtime.settings.base_url),
        media_type="application/xrd+xml",
        headers=CORS,
    )


async def nodeinfo_links(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return JSONResponse(discovery.nodeinfo_links(runtime.settings.base_url), headers=CORS)


async def nodeinfo(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        members = await actors.count_actors(session, ActorType.PERSON)
        groups = await actors.count_actors(session, ActorType.GROUP)
    document = discovery.nodeinfo_document(
        version=__version__,
        users_total=members,
        users_active_month=members,
        users_active_halfyear=members,
        local_posts=0,
        open_registrations=False,
        metadata={"groups": groups},
    )
    return JSONResponse(
        document,
        media_type='application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"',
        headers=CORS,
    )


routes = [
    Route("/.well-known/webfinger", webfinger),
    Route("/.well-known/host-meta", host_meta),
    Route("/.well-known/nodeinfo", nodeinfo_links),
    Route("/nodeinfo/2.1", nodeinfo),
]
