"""Following by handle: WebFinger, then the actor, then the Follow; the network comes first,
outside any transaction, and the Follow is delivered later by the workers."""

from ayni.commands import CommandError, find_group
from federation import addresses, discovery
from models import alliances, following
from models.actors import LocalActor
from models.remote import RemoteActor
from models.remote_actors import remote_actor
from models.runtime import Runtime


class FollowError(ValueError):
    pass


def webfinger_scheme(host: str, runtime: Runtime) -> str:
    """https everywhere; plain http only to addresses the admin allowed (local test setups)."""
    address = addresses.parse_address(host.rpartition(":")[0] if host.count(":") == 1 else host)
    allowed = address is not None and any(
        address in n for n in runtime.settings.allow_private_addresses
    )
    return "http" if allowed else "https"


async def resolve_actor(runtime: Runtime, handle: str) -> RemoteActor:
    try:
        _, host = discovery.parse_handle(handle)
    except ValueError as e:
        raise FollowError(f"{handle!r} is not a handle like @group@host: {e}") from None
    actor_uri = await discovery.resolve(
        handle, runtime.client.get_json, webfinger_scheme(host, runtime)
    )
    return await remote_actor(runtime, actor_uri)


async def _group(runtime: Runtime, name: str) -> LocalActor:
    """Looked up before anything is fetched: a mistyped group costs no request."""
    async with runtime.sessions() as session:
        try:
            return await find_group(session, name)
        except CommandError as e:  # every failure of following by handle is a FollowError
            raise FollowError(str(e)) from None


async def follow_handle(runtime: Runtime, group_name: str, handle: str) -> RemoteActor:
    group = await _group(runtime, group_name)
    remote = await resolve_actor(runtime, handle)
    async with runtime.sessions() as session, session.begin():
        await following.follow(session, runtime.uris, group, remote)
    return remote


async def unfollow_handle(runtime: Runtime, group_name: str, handle: str) -> RemoteActor:
    group = await _group(runtime, group_name)
    remote = await resolve_actor(runtime, handle)
    async with runtime.sessions() as session, session.begin():
        if not await following.unfollow(session, runtime.uris, group, remote):
            raise FollowError(f"@{group_name} does not follow {handle}")
    return remote


async def ally_handle(runtime: Runtime, group_name: str, handle: str, on: bool) -> RemoteActor:
    """The group's own mark on another group: an ally (`on`) or never one."""
    group = await _group(runtime, group_name)
    remote = await resolve_actor(runtime, handle)
    async with runtime.sessions() as session, session.begin():
        await alliances.mark(session, group, remote, on)
    return remote


async def relations(runtime: Runtime, group_name: str) -> list[following.Relation]:
    group = await _group(runtime, group_name)
    async with runtime.sessions() as session:
        return await following.relations(session, group)
