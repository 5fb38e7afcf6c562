"""When each queue worker of this process last finished a round, for `/healthz`.

A worker beats after every round that reached the database; one that died, hangs or cannot
reach the database stops beating. Only the workers `expect`ed are judged: a process without
workers (tests, or a web process beside `ayni worker` ones) has none to be late.
"""

import time
from collections.abc import Callable, Iterable

# The slowest round is the periodic job's, once a minute: five missed in a row is not a hiccup.
LATE_AFTER = 300.0


class Heartbeats:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}

    def expect(self, names: Iterable[str]) -> None:
        """Workers about to start: counted as just beaten, so a fresh process is healthy."""
        now = self._clock()
        for name in names:
            self._last[name] = now

    def beat(self, name: str) -> None:
        self._last[name] = self._clock()

    def ages(self) -> dict[str, float]:
        """Seconds since each expected worker's last round."""
        now = self._clock()
        return {name: round(now - last, 1) for name, last in sorted(self._last.items())}

    def late(self) -> list[str]:
        return [name for name, age in self.ages().items() if age > LATE_AFTER]
