"""The loop and collector settings of Ayni's commands (ayni.eventloop)."""

import asyncio
import subprocess
import sys

import pytest

from ayni import eventloop


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_commands_run_on_uvloop_where_it_is_installed() -> None:
    assert eventloop.run(loop_module()).startswith("uvloop")


def test_without_uvloop_they_run_on_asyncios_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert eventloop.run(loop_module()).startswith("asyncio")


def test_tune_gc_freezes_the_start_up_heap_and_collects_young_garbage_less_often() -> None:
    # In a process of its own: the test runner's collector is left as it is.
    code = (
        "import gc; from ayni import eventloop; eventloop.tune_gc(); "
        "print(gc.get_freeze_count(), gc.get_threshold()[0])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    frozen, threshold = map(int, done.stdout.split())
    assert frozen > 1000 and threshold == 10_000
