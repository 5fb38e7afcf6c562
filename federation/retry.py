"""When to try again: one pure policy, shared by both directions, each with its own parameters.

    delay = DELIVERY(attempt, Failure(status=503, retry_after=timedelta(minutes=5)))
    if delay is None: ...                       give up: the row ends `failed` (or `rejected`)

`attempt` counts the failed tries, this one included. A policy gives up at once on a permanent
failure (a 4xx other than 401, 408 and 429; or one the caller knows is final), and after
`attempts` tries whatever the failure: nothing retries for ever. Between, the wait grows by
`factor` from `first` to `ceiling`, spread by +-`jitter` so that a server coming back is not
hit by every queued row at once; a 429 or 503's Retry-After is honoured up to `retry_after_cap`.

    INBOX      30 s x 4^n, at most 6 h, 8 tries    about a day and a half in all
    DELIVERY   1 min x 2^n, at most 12 h, 14 tries  2-3 days in all; also fan-out jobs
"""

import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The answers that may mean something else later: unauthorised (a key not yet known), timeout,
# too many.
RETRIED_4XX = frozenset({401, 408, 429})
ASKS_TO_WAIT = frozenset({429, 503})  # the statuses whose Retry-After we honour


@dataclass(frozen=True)
class Failure:
    """What went wrong with one try."""

    status: int | None = None  # the other server's answer; None: none (timeout, connection, a bug)
    retry_after: timedelta | None = None  # how long its Retry-After asked us to wait
    final: bool = False  # the caller knows trying again cannot help (our guard refused, say)

    @property
    def permanent(self) -> bool:
        status = self.status
        return self.final or (
            status is not None and 400 <= status < 500 and status not in RETRIED_4XX
        )


@dataclass(frozen=True)
class RetryPolicy:
    first: timedelta
    factor: int
    ceiling: timedelta
    attempts: int  # the most tries, the first included
    jitter: float = 0.0
    retry_after_cap: timedelta = timedelta()  # zero: Retry-After is not honoured

    def __call__(
        self, attempt: int, failure: Failure, random_unit: Callable[[], float] = random.random
    ) -> timedelta | None:
        """The wait before the next try, or None to give up. `random_unit` returns [0, 1)."""
        if failure.permanent or attempt >= self.attempts:
            return None
        if (
            failure.retry_after is not None
            and failure.status in ASKS_TO_WAIT
            and self.retry_after_cap
        ):
            return min(max(failure.retry_after, timedelta(seconds=1)), self.retry_after_cap)
        delay: timedelta = min(self.first * self.factor ** max(attempt - 1, 0), self.ceiling)
        if self.jitter:
            delay *= 1 + self.jitter * (2 * random_unit() - 1)
        return delay


INBOX = RetryPolicy(first=timedelta(seconds=30), factor=4, ceiling=timedelta(hours=6), attempts=8)
DELIVERY = RetryPolicy(
    first=timedelta(minutes=1),
    factor=2,
    ceiling=timedelta(hours=12),
    attempts=14,
    jitter=0.25,
    retry_after_cap=timedelta(hours=6),
)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header, in seconds or as an HTTP date; None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(moment - now, timedelta())
