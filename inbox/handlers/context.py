"""What a handler gets: the network (fetches, before any transaction) and the database.

`Context.fetch` and `Context.actor` refuse to run while the handler's task holds a transaction
open (`models.transactions.outside_transaction`, the one guard the outbox shares), even when
the actor is cached and nothing would be fetched: a handler that asks there is a bug.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from models import actors, remote_actors, transactions
from models.actors import ActorType, LocalActor
from models.remote import RemoteActor
from models.runtime import Runtime


class Ignored(Exception):
    """The activity is understood and deliberately not acted on; the reason is kept."""


@dataclass
class Context:
    runtime: Runtime
    recipient_id: int | None = None

    @property
    def base_url(self) -> str:
        return self.runtime.settings.base_url

    async def fetch(self, uri: str) -> dict[str, Any]:
        await self._not_blocked(uri)
        return await self.runtime.fetch(uri)  # guarded there, as every fetch is

    async def actor(self, uri: str, *, refresh: bool = False) -> RemoteActor:
        transactions.outside_transaction(f"looking up the actor {uri}")
        await self._not_blocked(uri)
        return await remote_actors.remote_actor(self.runtime, uri, refresh=refresh)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.sessions() as session, session.begin():
            yield session

    def is_local(self, uri: object) -> bool:
        return vocab.same_origin(uri, self.base_url + "/")

    def local_name(self, uri: object) -> str | None:
        """The username of a local actor URI (`<base>/actors/<name>`); "" for the instance actor."""
        if not isinstance(uri, str) or not self.is_local(uri):
            return None
        if uri == self.runtime.uris.instance_actor():
            return ""
        prefix = self.runtime.uris.actor("")
        name = uri[len(prefix) :] if uri.startswith(prefix) else ""
        # A group's companion Service speaks for the group: what is sent to it is the group's.
        name = name.removesuffix(self.runtime.uris.service(""))
        return name if name and "/" not in name and "#" not in name and "?" not in name else None

    async def local_actor(self, session: AsyncSession, uri: object) -> LocalActor | None:
        name = self.local_name(uri)
        if name is None:
            return None
        if name == "":
            return await actors.instance_actor(session)
        found = await actors.find_actor(session, name)
        if found is None or found.username != name or found.type == ActorType.APPLICATION:
            return None
        if isinstance(uri, str) and uri.endswith(self.runtime.uris.service("")):
            return found if found.type == ActorType.GROUP else None
        return found

    async def _not_blocked(self, uri: str) -> None:
        host = vocab.host_of(uri)
        if await self.runtime.blocklist.blocks(host):
            raise Ignored(f"{host} is a blocked domain")


def actor_of(activity: dict[str, Any]) -> str:
    uri = vocab.id_of(activity.get("actor"))
    if uri is None:
        raise Ignored("the activity names no actor")
    return uri
