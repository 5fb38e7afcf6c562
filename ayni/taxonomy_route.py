"""The taxonomy's documents (models.taxonomy): /taxonomy, the default categories as a SKOS
concept scheme, and each group category at its URI as a concept narrowing one of them.

Both are public, under authorized fetch too (like the instance actor): other servers read them
unsigned to map items' categories, and they hold nothing but names. A browser asking for a
category is sent to the group's page filtered by it.
"""

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ayni.documents import not_found
from federation import vocab
from models import actors, taxonomy
from models.actors import ActorType
from models.items import DEFAULT_CATEGORIES, Category
from models.runtime import Runtime

# Names change rarely; an hour spares other servers' refetches without holding one for long.
PUBLIC = {"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"}


class LinkedDataResponse(JSONResponse):
    media_type = taxonomy.MEDIA_TYPE


async def scheme(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return LinkedDataResponse(taxonomy.scheme_document(runtime.uris), headers=PUBLIC)


async def category(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    name, slug = request.path_params["name"], request.path_params["slug"]
    wants_json = vocab.accepts_activity_json(request.headers.get("accept", ""))
    async with runtime.sessions() as session:
        group = await actors.find_actor(session, name)
        if group is None or group.type != ActorType.GROUP or group.username != name:
            found = None
        else:
            found = await session.scalar(
                select(Category).where(Category.group_id == group.id, Category.slug == slug)
            ) or _default(runtime, name, slug)
    if found is None:
        if wants_json:
            return not_found()
        raise HTTPException(404)
    if not wants_json:
        return RedirectResponse(f"/@{name}?category={slug}", status_code=302)
    assert group is not None
    document = taxonomy.category_document(runtime.uris, found, group.language)
    return LinkedDataResponse(document, headers={**PUBLIC, "Vary": "Accept"})


def _default(runtime: Runtime, name: str, slug: str) -> Category | None:
    """A default category of a group that has not used its categories yet (they are made on
    first use, and a GET writes nothing): what it will be."""
    names = dict(DEFAULT_CATEGORIES)
    if slug not in names:
        return None
    uri = runtime.uris.category(runtime.uris.actor(name), slug)
    return Category(slug=slug, name=names[slug], uri=uri)


routes = [
    Route("/taxonomy", scheme),
    Route("/actors/{name}/categories/{slug}", category),
]
