"""federation.breaker: per-host fetch slots, and a host that stops answering is left alone."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from federation.breaker import Breaker
from federation.errors import NotFound, Unavailable

SLOW = "https://slow.example/notes/1"
OTHER = "https://other.example/notes/1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Remote:
    """A fetch that records every call that reached the network, and answers as told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def timing_out(self, url: str) -> Callable[[], Awaitable[dict[str, str]]]:
        async def fetch() -> dict[str, str]:
            self.calls.append(url)
            raise Unavailable("no complete answer within 30 s", url=url)

        return fetch

    def answering(self, url: str) -> Callable[[], Awaitable[dict[str, str]]]:
        async def fetch() -> dict[str, str]:
            self.calls.append(url)
            return {"id": url}

        return fetch


async def strike_out(breaker: Breaker, remote: Remote, times: int = 2) -> None:
    for _ in range(times):
        with pytest.raises(Unavailable):
            await breaker.call(SLOW, remote.timing_out(SLOW))


async def test_a_host_that_timed_out_twice_fails_at_once_without_being_asked() -> None:
    clock, remote = Clock(), Remote()
    breaker = Breaker(clock=clock)
    await strike_out(breaker, remote)
    with pytest.raises(Unavailable, match="did not answer 2 fetches in a row"):
        await breaker.call(SLOW, remote.answering(SLOW))
    assert remote.calls == [SLOW, SLOW]
    assert breaker.backed_off(SLOW) == 60.0
    assert await breaker.call(OTHER, remote.answering(OTHER)) == {"id": OTHER}  # others unaffected


async def test_one_timeout_between_answers_is_forgiven() -> None:
    remote = Remote()
    breaker = Breaker(clock=Clock())
    await strike_out(breaker, remote, times=1)
    await breaker.call(SLOW, remote.answering(SLOW))
    await strike_out(breaker, remote, times=1)
    assert await breaker.call(SLOW, remote.answering(SLOW)) == {"id": SLOW}


async def test_an_error_status_is_an_answer_and_clears_the_strikes() -> None:
    remote = Remote()
    breaker = Breaker(clock=Clock())

    async def not_found() -> dict[str, str]:
        raise NotFound("not found", url=SLOW, status=404)

    async def server_error() -> dict[str, str]:
        raise Unavailable("server answered 503", url=SLOW, status=503)

    for answer in (not_found, server_error):
        await strike_out(breaker, remote, times=1)
        with pytest.raises((NotFound, Unavailable)):
            await breaker.call(SLOW, answer)
    await strike_out(breaker, remote, times=1)
    assert await breaker.call(SLOW, remote.answering(SLOW)) == {"id": SLOW}


async def test_after_the_backoff_one_fetch_probes_and_an_answer_reopens_the_host() -> None:
    clock, remote = Clock(), Remote()
    breaker = Breaker(clock=clock)
    await strike_out(breaker, remote)
    clock.now += 61
    probe_started, release = asyncio.Event(), asyncio.Event()

    async def slow_answer() -> dict[str, str]:
        probe_started.set()
        await release.wait()
        return {"id": SLOW}

    probe = asyncio.create_task(breaker.call(SLOW, slow_answer))
    await probe_started.wait()
    with pytest.raises(Unavailable):  # while the probe runs, the others still fail at once
        await breaker.call(SLOW, remote.answering(SLOW))
    release.set()
    assert await probe == {"id": SLOW}
    assert await breaker.call(SLOW, remote.answering(SLOW)) == {"id": SLOW}


async def test_a_failed_probe_doubles_the_backoff_up_to_its_ceiling() -> None:
    clock, remote = Clock(), Remote()
    breaker = Breaker(clock=clock, max_backoff=200.0)
    await strike_out(breaker, remote)
    waits = []
    for _ in range(3):
        clock.now += breaker.backed_off(SLOW) + 1
        await strike_out(breaker, remote, times=1)
        waits.append(breaker.backed_off(SLOW))
    assert waits == [120.0, 200.0, 200.0]


async def test_fetches_beyond_the_per_host_slots_wait_and_give_up_after_the_wait() -> None:
    breaker = Breaker(per_host=2, wait=0.2)
    hang = asyncio.Event()

    async def hanging() -> dict[str, str]:
        await hang.wait()
        return {}

    running = [asyncio.create_task(breaker.call(SLOW, hanging)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Unavailable, match="2 fetches from slow.example already wait"):
        await breaker.call(SLOW, hanging)
    assert await breaker.call(OTHER, Remote().answering(OTHER)) == {"id": OTHER}
    hang.set()
    await asyncio.gather(*running)


async def test_queued_fetches_fail_at_once_when_those_ahead_strike_out() -> None:
    remote = Remote()
    breaker = Breaker(per_host=2, clock=Clock())
    go = asyncio.Event()

    async def late_timeout() -> dict[str, str]:
        await go.wait()
        remote.calls.append(SLOW)
        raise Unavailable("no complete answer within 30 s", url=SLOW)

    calls = [asyncio.create_task(breaker.call(SLOW, late_timeout)) for _ in range(5)]
    await asyncio.sleep(0)
    go.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, Unavailable) for r in results)
    assert len(remote.calls) == 2  # only the two with a slot reached the network
