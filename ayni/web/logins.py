"""Login rate limiting, two ways, so that neither a botnet nor a spoofed address gets far:

- per (username, address): at most `limit` failures in `window`, then refused until it passes;
- per username, from any address: after `free` failures in `account_window`, each further attempt
  waits a delay that doubles with every failure (1 s, 2 s, 4 s … at most `longest`). A delay, not a
  lock: someone guessing at a member's name slows the guessing down to one try per `longest`,
  but cannot keep her out for longer than that.

The address is the client's as the app believes it (forwarded headers only from trusted
proxies). It is never kept: the counts are keyed by an HMAC of it under a random key made when
the process starts and never written anywhere, so not even a dump of the process's memory gives
back an address by hashing every candidate. In memory and per process: several processes behind
a balancer each keep their own counts, and a restart forgets them all.
"""

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, Hashable

LIMIT = 5
WINDOW = 15 * 60
FREE = 5
ACCOUNT_WINDOW = 24 * 3600
LONGEST = 5 * 60
MAX_KEYS = 10_000


class _Failures:
    """When each recent failure happened, per key, forgetting those older than `window`."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window, self.clock = window, clock
        self._times: dict[Hashable, deque[float]] = {}

    def recent(self, key: Hashable) -> deque[float]:
        times = self._times.get(key, deque())
        horizon = self.clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def add(self, key: Hashable) -> None:
        times = self.recent(key)
        times.append(self.clock())
        self._times[key] = times
        if len(self._times) > MAX_KEYS:
            for old in [k for k in self._times if not self.recent(k)]:
                del self._times[old]
            while len(self._times) > MAX_KEYS:  # still full of live keys: drop the oldest
                del self._times[next(iter(self._times))]

    def forget(self, key: Hashable) -> None:
        self._times.pop(key, None)


class LoginAttempts:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        free: int = FREE,
        account_window: float = ACCOUNT_WINDOW,
        longest: float = LONGEST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.free, self.longest, self.clock = limit, free, longest, clock
        self._by_address = _Failures(window, clock)
        self._by_account = _Failures(account_window, clock)
        self._key = secrets.token_bytes(32)

    def _hidden(self, address: str) -> bytes:
        return hmac.digest(self._key, address.encode(), hashlib.sha256)[:16]

    def wait(self, username: str, address: str) -> float:
        """Seconds before this username may be tried again from this address; 0 means now."""
        name = username.casefold()
        by_address = self._by_address.recent((name, self._hidden(address)))
        waits = [0.0]
        if len(by_address) >= self.limit:
            waits.append(by_address[0] + self._by_address.window - self.clock())
        by_account = self._by_account.recent(name)
        if by_account and len(by_account) >= self.free:
            delay = min(2.0 ** (len(by_account) - self.free), self.longest)
            waits.append(by_account[-1] + delay - self.clock())
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        name = username.casefold()
        self._by_address.add((name, self._hidden(address)))
        self._by_account.add(name)

    def succeeded(self, username: str, address: str) -> None:
        # The account's failures stay: a guesser must not win free tries whenever she signs in.
        self._by_address.forget((username.casefold(), self._hidden(address)))
