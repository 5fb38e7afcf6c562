from datetime import UTC, datetime, timedelta

import pytest

from outbox.retry import (
    MAX_ATTEMPTS,
    RETRY_AFTER_CAP,
    Verdict,
    backoff,
    decide,
    host_unavailable,
    parse_retry_after,
    total_backoff,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def middle() -> float:
    return 0.5


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, Verdict.SENT), (202, Verdict.SENT), (204, Verdict.SENT), (404, Verdict.GONE), (410, Verdict.GONE),
     (400, Verdict.REJECTED), (403, Verdict.REJECTED), (422, Verdict.REJECTED),
     (401, Verdict.RETRY), (408, Verdict.RETRY), (429, Verdict.RETRY), (500, Verdict.RETRY),
     (502, Verdict.RETRY), (503, Verdict.RETRY), (None, Verdict.RETRY)],
)
def test_statuses_map_to_outcomes(status: int | None, verdict: Verdict) -> None:
    assert decide(status, 1, NOW, random_unit=middle).verdict == verdict


def test_a_retry_waits_longer_each_time() -> None:
    waits = [decide(500, n, NOW, random_unit=middle).retry_at for n in range(1, 6)]
    assert [w - NOW for w in waits if w] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]


def test_jitter_spreads_retries_by_a_quarter_either_way() -> None:
    low = decide(500, 3, NOW, random_unit=lambda: 0.0).retry_at
    high = decide(500, 3, NOW, random_unit=lambda: 0.999999).retry_at
    assert low is not None and high is not None
    assert low - NOW == timedelta(minutes=3)
    assert timedelta(minutes=4.99) < high - NOW <= timedelta(minutes=5)


def test_retries_stop_after_two_to_three_days() -> None:
    assert timedelta(days=2) <= total_backoff() <= timedelta(days=3)
    assert decide(500, MAX_ATTEMPTS - 1, NOW).verdict == Verdict.RETRY
    assert decide(500, MAX_ATTEMPTS, NOW).verdict == Verdict.FAILED
    assert decide(None, MAX_ATTEMPTS, NOW).verdict == Verdict.FAILED


def test_backoff_has_a_ceiling() -> None:
    assert backoff(40) == timedelta(hours=12)


def test_429_and_503_honour_retry_after_in_seconds_or_as_a_date() -> None:
    assert decide(429, 1, NOW, retry_after="600").retry_at == NOW + timedelta(minutes=10)
    later = "Fri, 01 May 2026 14:00:00 GMT"
    assert decide(503, 1, NOW, retry_after=later).retry_at == NOW + timedelta(hours=2)


def test_retry_after_is_capped_and_ignored_when_garbage_or_on_other_statuses() -> None:
    assert decide(429, 1, NOW, retry_after="999999999").retry_at == NOW + RETRY_AFTER_CAP
    assert decide(429, 1, NOW, retry_after="soon", random_unit=middle).retry_at == NOW + timedelta(minutes=1)
    assert decide(500, 1, NOW, retry_after="600", random_unit=middle).retry_at == NOW + timedelta(minutes=1)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", NOW) == timedelta()


def test_refused_by_our_guard_is_permanent() -> None:
    assert decide(None, 1, NOW, refused=True).verdict == Verdict.REJECTED


def test_a_host_is_unavailable_only_after_failing_long_and_often() -> None:
    day_ago = NOW - timedelta(hours=25)
    assert host_unavailable(6, day_ago, NOW)
    assert not host_unavailable(2, day_ago, NOW)
    assert not host_unavailable(50, NOW - timedelta(hours=1), NOW)
    assert not host_unavailable(50, None, NOW)
