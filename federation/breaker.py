"""Per-host patience for fetches: a few at once per host, and a host that stops answering is
left alone for a while, so one slow server cannot hold every worker that needs something from it.

    breaker = Breaker(wait=30.0)
    document = await breaker.call(url, lambda: client.fetch(url))

At most `per_host` fetches to one host run at once; the others wait for a slot up to `wait`
seconds, then fail as `Unavailable`. An exchange that got no answer at all (a timeout, a
refused or reset connection: `Unavailable` without a status) is a strike; after `strikes` in a
row the host is backed off: fetches fail at once, without a socket, for `first_backoff`,
doubling with each further strike up to `max_backoff`. When the time is up one fetch probes the
host (the others still fail at once); any answer, even an error status, clears its record.

Activities received from the host do not clear it: a hostile server can send us activities
quickly and still trickle the objects they point at. State is per process and in memory.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from federation import vocab
from federation.errors import FetchError, Unavailable

T = TypeVar("T")

MAX_HOSTS = 10_000  # hosts remembered as failing; a flood of new names cannot grow it further


@dataclass
class _Host:
    strikes: int = 0
    until: float = 0.0  # monotonic time before which fetches fail at once
    probing: bool = False
    users: int = 0  # fetches running or waiting for a slot
    slots: asyncio.Semaphore | None = None


@dataclass
class Breaker:
    per_host: int = 4
    wait: float = 30.0
    strikes: int = 2
    first_backoff: float = 60.0
    max_backoff: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _hosts: dict[str, _Host] = field(default_factory=dict)

    def backed_off(self, url: str) -> float:
        """Seconds until `url`'s host may be asked again (0 when it may be now)."""
        state = self._hosts.get(vocab.host_of(url) or "")
        return max(state.until - self.clock(), 0.0) if state is not None else 0.0

    async def call(self, url: str, fetch: Callable[[], Awaitable[T]]) -> T:
        host = vocab.host_of(url) or ""
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= MAX_HOSTS:
                self._forget_idle()
            state = self._hosts[host] = _Host()
        if state.slots is None:
            state.slots = asyncio.Semaphore(self.per_host)
        state.users += 1
        try:
            try:
                async with asyncio.timeout(self.wait):
                    await state.slots.acquire()
            except TimeoutError:
                raise Unavailable(
                    f"{self.per_host} fetches from {host} already wait on it", url=url
                ) from None
            try:
                return await self._attempt(host, state, url, fetch)
            finally:
                state.slots.release()
        finally:
            state.users -= 1
            if state.users == 0 and state.strikes == 0:
                self._hosts.pop(host, None)

    async def _attempt(
        self, host: str, state: _Host, url: str, fetch: Callable[[], Awaitable[T]]
    ) -> T:
        # Checked after the slot is ours: those who queued behind the strikes fail at once too.
        if state.strikes >= self.strikes:
            left = state.until - self.clock()
            if left > 0 or state.probing:
                raise Unavailable(
                    f"{host} did not answer {state.strikes} fetches in a row;"
                    f" not asked again for {max(left, 0):.0f} s",
                    url=url,
                )
            state.probing = True
        try:
            result = await fetch()
        except Unavailable as error:
            if error.status is None:
                self._strike(state)
            else:
                self._answered(state)
            raise
        except FetchError as error:
            if error.status is not None:
                self._answered(state)
            raise
        finally:
            state.probing = False
        self._answered(state)
        return result

    def _strike(self, state: _Host) -> None:
        state.strikes += 1
        if state.strikes >= self.strikes:
            backoff = self.first_backoff * 2 ** (state.strikes - self.strikes)
            state.until = self.clock() + min(backoff, self.max_backoff)

    def _answered(self, state: _Host) -> None:
        state.strikes, state.until = 0, 0.0

    def _forget_idle(self) -> None:
        now = self.clock()
        for host, state in list(self._hosts.items()):
            if state.users == 0 and state.until <= now:
                del self._hosts[host]
