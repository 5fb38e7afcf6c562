"""What the federation tests set their worlds up from: one loopback network per test, with
Mastodon-shaped peers and Ayni instances on it (`net`), and the two-instance `pair`."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import DatabaseUrls
from tests.instances import Instance, Loopback, settings_for, start_instance
from tests.peers import ForumPeer, MastodonPeer

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"


class Net:
    """One loopback network: what joins it is closed when the test ends, instances first."""

    def __init__(self, databases: DatabaseUrls, stack: contextlib.AsyncExitStack) -> None:
        self.loopback = Loopback()
        self._databases, self._stack = databases, stack

    def peer(
        self,
        base_url: str,
        username: str = "alice",
        actor_type: str = "Person",
        kind: type[MastodonPeer] = MastodonPeer,
    ) -> MastodonPeer:
        peer = kind(base_url, self.loopback, username=username, actor_type=actor_type)
        self.loopback.add(peer.host, peer.app)
        self._stack.push_async_callback(peer.aclose)
        return peer

    def forum(self, base_url: str) -> ForumPeer:
        """A Lemmy-, Mbin- or Misskey-shaped server: several actors, one host."""
        forum = ForumPeer(base_url, self.loopback)
        self.loopback.add(forum.host, forum.app)
        self._stack.push_async_callback(forum.aclose)
        return forum

    async def instance(self, base_url: str, **settings: Any) -> Instance:
        """A seeded instance (group `food`, member `ana`) on a fresh database; `settings`
        override the test defaults (e.g. `authorized_fetch=True`)."""
        database_url = await self._databases.new()
        return await self._stack.enter_async_context(
            start_instance(
                base_url,
                database_url,
                self.loopback,
                settings=settings_for(base_url, database_url, **settings),
            )
        )


@pytest.fixture
async def net(database_urls: DatabaseUrls) -> AsyncIterator[Net]:
    async with contextlib.AsyncExitStack() as stack:
        yield Net(database_urls, stack)


@pytest.fixture
async def pair(net: Net) -> tuple[Instance, Instance]:
    """Two instances, A and B, that reach each other over real signed HTTP."""
    return await net.instance(A), await net.instance(B)
