"""Login rate limiting: at most `limit` failures per (username, address) in `window` seconds.

In memory and per app instance: enough to stop password guessing against one process. Several
processes behind a balancer each keep their own count (a shared store can come later).
"""

import time
from collections import deque
from collections.abc import Callable

LIMIT = 5
WINDOW = 15 * 60
MAX_KEYS = 10_000


class LoginAttempts:
    def __init__(
        self, limit: int = LIMIT, window: float = WINDOW, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    def blocked(self, username: str, address: str) -> bool:
        return len(self._recent((username.casefold(), address))) >= self.limit

    def failed(self, username: str, address: str) -> None:
        key = (username.casefold(), address)
        failures = self._recent(key)
        failures.append(self.clock())
        self._failures[key] = failures
        if len(self._failures) > MAX_KEYS:
            self._forget_expired()

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username.casefold(), address), None)

    def _forget_expired(self) -> None:
        for key in list(self._failures):
            if not self._recent(key):
                del self._failures[key]
        while len(self._failures) > MAX_KEYS:  # still full of live keys: drop the oldest
            del self._failures[next(iter(self._failures))]
