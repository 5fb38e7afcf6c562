"""The one retry policy, with each direction's parameters, and what a delivery's answer means."""

from datetime import UTC, datetime, timedelta

import pytest

from federation.retry import DELIVERY, INBOX, Failure, RetryPolicy, parse_retry_after
from models.hosts import host_unavailable
from models.queue import DeliveryState
from outbox.deliver import Outcome
from outbox.worker import decide

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
NO_ANSWER = Failure()


def middle() -> float:
    return 0.5


def delays(policy: RetryPolicy, failure: Failure = NO_ANSWER) -> list[timedelta | None]:
    return [policy(n, failure, middle) for n in range(1, policy.attempts + 1)]


def test_the_inbox_waits_30_s_times_4_to_a_6_hour_ceiling_and_gives_up_after_8_tries() -> None:
    assert delays(INBOX) == [timedelta(seconds=s) for s in (30, 120, 480, 1920, 7680)] + [
        timedelta(hours=6),
        timedelta(hours=6),
        None,
    ]
    assert timedelta(hours=12) < sum(filter(None, delays(INBOX)), timedelta()) < timedelta(days=3)


def test_the_inbox_has_no_jitter_and_ignores_retry_after() -> None:
    assert (
        INBOX(2, NO_ANSWER, lambda: 0.0)
        == INBOX(2, NO_ANSWER, lambda: 0.999)
        == timedelta(minutes=2)
    )
    assert INBOX(1, Failure(503, retry_after=timedelta(hours=1))) == timedelta(seconds=30)


def test_deliveries_double_from_a_minute_to_a_12_hour_ceiling_and_give_up_after_14_tries() -> None:
    waits = delays(DELIVERY)
    assert waits[:5] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert waits[-3:] == [timedelta(hours=12), timedelta(hours=12), None]
    assert DELIVERY(40, NO_ANSWER, middle) is None, "no try past the ceiling, whatever the failure"
    assert timedelta(days=2) <= sum(filter(None, waits), timedelta()) <= timedelta(days=3)


def test_delivery_jitter_spreads_retries_by_a_quarter_either_way() -> None:
    assert DELIVERY(3, NO_ANSWER, lambda: 0.0) == timedelta(minutes=3)
    high = DELIVERY(3, NO_ANSWER, lambda: 0.999999)
    assert high is not None and timedelta(minutes=4.99) < high <= timedelta(minutes=5)


def test_429_and_503_are_retried_when_their_retry_after_asks_within_a_6_hour_cap() -> None:
    assert DELIVERY(1, Failure(429, retry_after=timedelta(minutes=10))) == timedelta(minutes=10)
    assert DELIVERY(1, Failure(503, retry_after=timedelta(days=30))) == timedelta(hours=6)
    assert DELIVERY(1, Failure(503, retry_after=timedelta())) == timedelta(seconds=1)
    assert DELIVERY(1, Failure(500, retry_after=timedelta(minutes=10)), middle) == timedelta(
        minutes=1
    )
    assert DELIVERY(DELIVERY.attempts, Failure(429, retry_after=timedelta(minutes=10))) is None


@pytest.mark.parametrize(
    "failure", [Failure(400), Failure(403), Failure(404), Failure(422), Failure(final=True)]
)
def test_a_permanent_failure_is_given_up_at_once(failure: Failure) -> None:
    assert failure.permanent
    assert DELIVERY(1, failure) is None and INBOX(1, failure) is None


@pytest.mark.parametrize("status", [None, 401, 408, 429, 500, 502, 503, 301])
def test_failures_that_may_pass_are_retried(status: int | None) -> None:
    assert DELIVERY(1, Failure(status), middle) == timedelta(minutes=1)


def test_retry_after_is_read_in_seconds_or_as_a_date_and_garbage_is_none() -> None:
    assert parse_retry_after("600", NOW) == timedelta(minutes=10)
    assert parse_retry_after("Fri, 01 May 2026 14:00:00 GMT", NOW) == timedelta(hours=2)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", NOW) == timedelta()
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (200, DeliveryState.SENT),
        (202, DeliveryState.SENT),
        (204, DeliveryState.SENT),
        (404, DeliveryState.GONE),
        (410, DeliveryState.GONE),
        (400, DeliveryState.REJECTED),
        (403, DeliveryState.REJECTED),
        (422, DeliveryState.REJECTED),
        (401, DeliveryState.PENDING),
        (408, DeliveryState.PENDING),
        (429, DeliveryState.PENDING),
        (500, DeliveryState.PENDING),
        (502, DeliveryState.PENDING),
        (503, DeliveryState.PENDING),
        (None, DeliveryState.PENDING),
    ],
)
def test_a_delivery_answer_maps_to_its_state(status: int | None, state: DeliveryState) -> None:
    got, due = decide(Outcome(status), 1, NOW, middle)
    assert got == state
    assert due == (NOW + timedelta(minutes=1) if state is DeliveryState.PENDING else NOW)


def test_a_delivery_honours_retry_after_and_fails_at_the_ceiling() -> None:
    assert decide(Outcome(503, retry_after="600"), 1, NOW) == (
        DeliveryState.PENDING,
        NOW + timedelta(minutes=10),
    )
    assert decide(Outcome(429, retry_after="soon"), 1, NOW, middle) == (
        DeliveryState.PENDING,
        NOW + timedelta(minutes=1),
    )
    assert decide(Outcome(500), DELIVERY.attempts - 1, NOW)[0] == DeliveryState.PENDING
    assert decide(Outcome(500), DELIVERY.attempts, NOW) == (DeliveryState.FAILED, NOW)
    assert decide(Outcome(None), DELIVERY.attempts, NOW) == (DeliveryState.FAILED, NOW)


def test_a_delivery_refused_by_our_own_guard_is_rejected_at_once() -> None:
    assert decide(Outcome(None, refused=True), 1, NOW) == (DeliveryState.REJECTED, NOW)


def test_a_host_is_unavailable_only_after_failing_long_and_often() -> None:
    day_ago = NOW - timedelta(hours=25)
    assert host_unavailable(6, day_ago, NOW)
    assert not host_unavailable(2, day_ago, NOW)
    assert not host_unavailable(50, NOW - timedelta(hours=1), NOW)
    assert not host_unavailable(50, None, NOW)
