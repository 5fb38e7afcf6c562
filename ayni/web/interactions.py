"""Following across servers from the browser, both ways.

"Follow from your server" (`/@name/follow`): a visitor gives their handle or just their server;
we read their WebFinger for its OStatus subscribe template (Mastodon:
`https://server/authorize_interaction?uri={uri}`) and send them there with our group's handle,
but only once their server has answered WebFinger or NodeInfo as a fediverse server: otherwise
a link to us would be a redirect to anywhere. "Reply from your server" (`/items/ID/reply`) is the
same road with a public item's address instead of the handle. The lookups go through the
instance's client, so the SSRF guard, its limits and the domain blocks apply.

`/authorize_interaction?uri=...` is our own subscribe template (see `federation.discovery`): a
member who found a group elsewhere lands here and, as an admin of one of our groups, makes that
group follow it.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.following import FollowError, resolve_actor, webfinger_scheme
from ayni.web import access, render, security
from ayni.web.i18n import N_
from federation import discovery, sanitize
from federation.errors import FederationError, NotFound, Refused
from federation.visibility import Visibility
from federation.vocab import host_of
from models import actors, following
from models.actors import ActorType, LocalActor, Role
from models.follows import Direction, Follow
from models.items import Item
from models.remote import RemoteActor
from models.remote_actors import remote_actor
from models.runtime import Runtime

MAX_ACCOUNT = 255
MAX_URI = 2048
BAD_ACCOUNT = N_(
    "Type your handle like you@example.social, or just your server, like example.social."
)
BLOCKED = N_("This server does not federate with that server.")
UNREACHABLE = N_("We could not reach that server. Check the name, or try again later.")
NOT_FOUND = N_("We could not find that account, or it is not one we can follow.")
REFUSED = N_("We do not contact that address. Use your server's public name.")
OWN_SERVER = N_("That is on this server: open its page here instead.")


# --- "Follow from your server" ---


def parse_account(text: str) -> tuple[str | None, str]:
    """(name or None, server) from `you@server`, `@you@server` or `server`; ValueError otherwise.
    Strict on purpose: whatever passes becomes a URL we fetch and a place we send people."""
    text = text.strip()
    if not text or len(text) > MAX_ACCOUNT:
        raise ValueError("empty or too long")
    if "@" in text.lstrip("@"):
        name, host = discovery.parse_handle(text)
        return name, host
    return None, discovery.parse_host(text)


def _usable_template(template: str, answer: object, server: str, scheme: str) -> bool:
    """Only a web URL on the visitor's own server, or on the server their account lives on
    (a handle's domain may differ from its server's: `@ana@example.org` served by
    `social.example.org`); their WebFinger may not send them anywhere else."""
    try:
        homes = {server, host_of(discovery.self_link(answer))}
    except FederationError:
        homes = {server}
    parts = urlsplit(template)
    return parts.scheme in {"https", scheme} and host_of(template) in homes


class Unconfirmed(LookupError):
    """The server named did not answer as a fediverse server: we do not send anyone there
    ourselves, but show the visitor where she asked to go, to continue by hand if she trusts it."""

    def __init__(self, server: str, url: str) -> None:
        super().__init__(server)
        self.server, self.url = server, url


async def _answers_as_a_server(runtime: Runtime, server: str, scheme: str) -> bool:
    """Whether `server` serves a NodeInfo index, as every fediverse server does."""
    try:
        return discovery.lists_nodeinfo(
            await runtime.client.get_json(discovery.nodeinfo_url(server, scheme))
        )
    except Refused:  # the SSRF guard: a private address, a bad redirect
        raise LookupError(REFUSED) from None
    except FederationError:
        return False


async def subscribe_url(runtime: Runtime, account: str, handle: str) -> str:
    """Where to send the visitor: their server's subscribe template filled with our `handle`,
    only once that server has answered WebFinger or NodeInfo as a fediverse server. Raises
    ValueError (bad input), Unconfirmed, or LookupError with the message to show."""
    name, server = parse_account(account)
    scheme = webfinger_scheme(server, runtime)
    fallback = f"{scheme}://{server}/authorize_interaction?uri={{uri}}"
    if await runtime.blocklist.blocks(server):
        raise LookupError(BLOCKED)
    confirmed = False
    template = None
    if name is not None:
        try:
            answer = await runtime.client.get_json(
                discovery.webfinger_url(f"{name}@{server}", scheme)
            )
        except NotFound:
            raise LookupError(NOT_FOUND) from None
        except Refused:  # the SSRF guard: a private address, a bad redirect, not JSON
            raise LookupError(REFUSED) from None
        except FederationError:
            raise LookupError(UNREACHABLE) from None
        found = discovery.subscribe_template(answer)
        template = found if found and _usable_template(found, answer, server, scheme) else None
        confirmed = template is not None or _names_an_actor(answer)
    url = (template or fallback).replace("{uri}", quote(handle, safe=""))
    if not confirmed and not await _answers_as_a_server(runtime, server, scheme):
        raise Unconfirmed(server, url)
    return url


def _names_an_actor(answer: object) -> bool:
    try:
        discovery.self_link(answer)
    except FederationError:
        return False
    return True


async def _followable(request: Request) -> LocalActor:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        group = await actors.find_actor(session, request.path_params["name"])
    if (
        group is None
        or group.type != ActorType.GROUP
        or group.username != request.path_params["name"]
    ):
        raise HTTPException(404, N_("There is no such group here."))
    return group


@dataclass(frozen=True)
class Interaction:
    """What the visitor wants to do from her own server, for the page that asks her where it is:
    follow a group (by its handle) or reply to an item (by its address)."""

    uri: str  # what her server is asked about
    action: str  # this page's own address
    back: str
    group: LocalActor
    title: str = ""  # an item's, when replying


async def _interact(request: Request, interaction: Interaction) -> Response:
    runtime: Runtime = request.app.state.runtime
    context: dict[str, Any] = {
        "interaction": interaction,
        "group": interaction.group,
        "handle": f"{interaction.group.username}@{runtime.settings.host}",
        "account": "",
        "error": None,
        "unconfirmed": None,
    }
    account = request.query_params.get("account")
    if account is None:
        return render(request, "follow.html", context)
    context["account"] = account[:MAX_ACCOUNT]
    try:
        target = await subscribe_url(runtime, account, interaction.uri)
    except ValueError:
        return render(request, "follow.html", context | {"error": BAD_ACCOUNT}, status_code=400)
    except Unconfirmed as unconfirmed:
        return render(request, "follow.html", context | {"unconfirmed": unconfirmed})
    except LookupError as e:
        return render(request, "follow.html", context | {"error": str(e)}, status_code=400)
    return RedirectResponse(target, status_code=303)


async def follow_from_your_server(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    group = await _followable(request)
    path = f"/@{group.username}"
    return await _interact(
        request,
        Interaction(f"{group.username}@{runtime.settings.host}", f"{path}/follow", path, group),
    )


async def reply_from_your_server(request: Request) -> Response:
    """The same road with a public item's address: her server opens it, to reply or boost."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uuid == request.path_params["uuid"]))
        group = await session.get(LocalActor, item.group_id) if item is not None else None
    if (
        item is None
        or group is None
        or item.deleted_at is not None
        or item.visibility != Visibility.PUBLIC
    ):
        raise HTTPException(404, N_("There is no such item."))
    path = f"/items/{item.uuid}"
    return await _interact(
        request,
        Interaction(runtime.uris.item(item.uuid), f"{path}/reply", path, group, item.title),
    )


# --- authorize_interaction: our members follow from here ---


def _parse_uri(text: str | None) -> str:
    """The acct handle or https URL to resolve; ValueError when it is neither."""
    text = (text or "").strip()
    if not text or len(text) > MAX_URI:
        raise ValueError("empty or too long")
    if text.lower().startswith(("https://", "http://")):
        if host_of(text) is None:
            raise ValueError("no host")
        return text
    name, host = discovery.parse_handle(text)
    return f"{name}@{host}"


async def resolve(runtime: Runtime, text: str | None) -> RemoteActor:
    """The remote actor a handle or URL names, through discovery and the safe client.
    Raises LookupError with the message to show; nothing is stored unless it resolved."""
    try:
        uri = _parse_uri(text)
    except ValueError:
        raise LookupError(NOT_FOUND) from None
    host = host_of(uri) if "://" in uri else discovery.parse_handle(uri)[1]
    if host == runtime.settings.host or host == urlsplit(runtime.settings.base_url).hostname:
        raise LookupError(OWN_SERVER)
    if await runtime.blocklist.blocks(host):
        raise LookupError(BLOCKED)
    try:
        return await (remote_actor(runtime, uri) if "://" in uri else resolve_actor(runtime, uri))
    except (FollowError, FederationError, ValueError):
        raise LookupError(NOT_FOUND) from None


def _shown(remote: RemoteActor) -> dict[str, Any]:
    summary = remote.document.get("summary") if isinstance(remote.document, dict) else None
    return {
        "uri": remote.uri,
        "name": remote.name or remote.username or remote.uri,
        "handle": f"@{remote.username}@{remote.host}" if remote.username else remote.uri,
        "summary_html": sanitize.sanitize_html(summary[:5000]) if isinstance(summary, str) else "",
        "type": remote.type,
    }


async def _admin_groups(
    runtime: Runtime, member: LocalActor, remote: RemoteActor
) -> list[dict[str, Any]]:
    async with runtime.sessions() as session:
        groups = await access.groups_of(session, member, Role.ADMIN)
        states = dict(
            (
                await session.execute(
                    select(Follow.local_actor_id, Follow.state).where(
                        Follow.remote_actor_id == remote.id,
                        Follow.direction == Direction.OUTBOUND,
                    )
                )
            ).all()
        )
    return [
        {"username": g.username, "name": g.name or g.username, "state": states.get(g.id)}
        for g in groups
    ]


async def authorize_form(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        member = await access.member(request, session)
    uri = request.query_params.get("uri")
    try:
        remote = await resolve(runtime, uri)
    except LookupError as e:
        return render(
            request, "authorize.html", {"error": str(e), "asked": (uri or "")[:MAX_URI]}, 400
        )
    return render(
        request,
        "authorize.html",
        {
            "remote": _shown(remote),
            "groups": await _admin_groups(runtime, member, remote),
            "asked": uri,
        },
    )


async def authorize(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        member = await access.member(request, session)
        group = await access.group(session, str(form.get("group", ""))[:64], member, Role.ADMIN)
    uri = str(form.get("uri", ""))[:MAX_URI]
    try:
        remote = await resolve(runtime, uri)  # the network first, outside the transaction
    except LookupError as e:
        return render(request, "authorize.html", {"error": str(e), "asked": uri}, 400)
    async with runtime.sessions() as session, session.begin():
        fresh = await session.get(LocalActor, group.id)
        target = await session.get(RemoteActor, remote.id)
        if fresh is None or target is None:
            raise HTTPException(404, N_("There is no such group here."))
        await following.follow(session, runtime.uris, fresh, target)
    return RedirectResponse(
        f"/authorize_interaction/followed?group={quote(group.username)}"
        f"&uri={quote(remote.uri, safe='')}",
        status_code=303,
    )


async def followed(request: Request) -> Response:
    """The confirmation after "Follow as": what was asked and where the follow stands."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        member = await access.member(request, session)
        group = await access.group(
            session, request.query_params.get("group", "")[:64], member, Role.ADMIN
        )
        remote = await session.scalar(
            select(RemoteActor).where(RemoteActor.uri == request.query_params.get("uri", ""))
        )
        state = (
            None
            if remote is None
            else await session.scalar(
                select(Follow.state).where(
                    Follow.local_actor_id == group.id,
                    Follow.remote_actor_id == remote.id,
                    Follow.direction == Direction.OUTBOUND,
                )
            )
        )
    if remote is None or state is None:
        raise HTTPException(404, N_("That group does not follow this account."))
    return render(
        request,
        "authorize.html",
        {
            "remote": _shown(remote),
            "done": {"name": group.name or group.username, "state": state},
        },
    )


routes = [
    Route("/@{name}/follow", follow_from_your_server, methods=["GET"]),
    Route("/items/{uuid}/reply", reply_from_your_server, methods=["GET"]),
    Route("/authorize_interaction", authorize_form, methods=["GET"]),
    Route("/authorize_interaction", authorize, methods=["POST"]),
    Route("/authorize_interaction/followed", followed, methods=["GET"]),
]
