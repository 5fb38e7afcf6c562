"""The retry policy, pure: what one delivery attempt's result means and when to try again.

    2xx                         sent
    404, 410                    gone (410 on a follower's inbox also ends the follow)
    401, 408, 429, 5xx          retry; 429 and 503 honour Retry-After, within a cap
    other 4xx                   rejected
    timeout, connection error   retry
    anything else raised        retry (a bug here must not lose an activity)

Backoff doubles from one minute to a 12-hour ceiling, with +-25% jitter so that a server
coming back is not hit by every queued row at once; after MAX_ATTEMPTS (about 2-3 days in
all) the row is `failed`. A host is `unavailable` once it has failed for UNAVAILABLE_AFTER
without a single success; fan-out then skips it until it answers or sends us anything.
"""

import email.utils
import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from outbox.hosts import mark_host_alive  # noqa: F401  (re-exported for the inbox)

FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=12)
MAX_ATTEMPTS = 14
RETRY_AFTER_CAP = timedelta(hours=6)
JITTER = 0.25
UNAVAILABLE_AFTER = timedelta(hours=24)
UNAVAILABLE_MIN_FAILURES = 5


class Verdict(enum.StrEnum):
    SENT = "sent"
    GONE = "gone"
    REJECTED = "rejected"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    retry_at: datetime | None = None


def backoff(attempts: int, jitter: float = 0.0) -> timedelta:
    """The wait after the `attempts`-th failure; `jitter` in [-1, 1] scales it by +-JITTER."""
    base: timedelta = min(FIRST_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return base * (1 + JITTER * jitter)


def total_backoff() -> timedelta:
    return sum((backoff(n) for n in range(1, MAX_ATTEMPTS)), timedelta())


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
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


def classify(status: int | None) -> Verdict:
    """`status` None: no answer at all (timeout, connection error)."""
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.SENT
    if status in (404, 410):
        return Verdict.GONE
    if status in (401, 408, 429) or status >= 500:
        return Verdict.RETRY
    if 400 <= status < 500:
        return Verdict.REJECTED
    return Verdict.RETRY  # 1xx/3xx left over from redirects we refused to follow


def decide(
    status: int | None,
    attempts: int,
    now: datetime,
    *,
    retry_after: str | None = None,
    refused: bool = False,
    random_unit: Callable[[], float] = random.random,
) -> Decision:
    """`attempts` counts this one; `refused`: our own guard would never send there.
    `random_unit` returns [0, 1) (injected for tests)."""
    verdict = Verdict.REJECTED if refused else classify(status)
    if verdict != Verdict.RETRY:
        return Decision(verdict)
    if attempts >= MAX_ATTEMPTS:
        return Decision(Verdict.FAILED)
    delay = backoff(attempts, jitter=2 * random_unit() - 1)
    if status in (429, 503):
        asked = parse_retry_after(retry_after, now)
        if asked is not None:
            delay = min(max(asked, timedelta(seconds=1)), RETRY_AFTER_CAP)
    return Decision(Verdict.RETRY, now + delay)


def host_unavailable(consecutive_failures: int, first_failure_at: datetime | None, now: datetime) -> bool:
    return (
        first_failure_at is not None
        and consecutive_failures >= UNAVAILABLE_MIN_FAILURES
        and now - first_failure_at >= UNAVAILABLE_AFTER
    )
