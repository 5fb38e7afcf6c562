"""How Ayni's commands run: on uvloop where it is installed (Linux and macOS, as uvicorn itself
would choose), else on asyncio's own loop; long-running ones freeze their start-up heap.

    eventloop.run(main())
    eventloop.freeze_heap()   # once `serve` or `worker` is up

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


def freeze_heap() -> None:
    """What exists once a long-running command is up (modules, mappers, the runtime) lives as
    long as the process: the full collections that a busy worker's garbage triggers need not
    walk it again (unfrozen, one such collection took 15% of a round in bench/delivery.py)."""
    gc.freeze()
