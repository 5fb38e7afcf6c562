"""How Ayni's commands run: on uvloop where it is installed (Linux and macOS, as uvicorn itself
would choose), else on asyncio's own loop; long-running ones tune the garbage collector for a
server.

    eventloop.run(main())
    eventloop.tune_gc()       # once `serve` or `worker` is up

uvloop opens, reads and closes sockets in C: a delivery to a host we have no connection to yet
costs about a fifth less CPU than on asyncio's selector loop (bench/delivery.py).
"""

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # Windows, or installed without it: asyncio is correct, only slower
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=factory()) as runner:
        return runner.run(main)


def tune_gc() -> None:
    """Once a long-running command is up. What exists then (modules, mappers, the runtime) lives
    as long as the process: frozen, the full collections a busy worker triggers need not walk
    it (unfrozen, one took 15% of a round in bench/delivery.py). Young garbage is collected
    every 10,000 allocations rather than 700: a delivery makes dozens of short-lived objects,
    and reference counting frees nearly all of them anyway."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
