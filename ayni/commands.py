"""What every `ayni` command needs: settings, a runtime for the length of the command, and
one kind of user-facing error."""

from collections.abc import Awaitable, Callable
from typing import Any

from ayni import settings as settings_module
from ayni.runtime import Runtime
from ayni.settings import Settings
from models import db


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def load_settings() -> Settings:
    return settings_module.load()


async def with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[Any]]) -> Any:
    runtime = Runtime.build(settings)
    try:
        return await work(runtime)
    finally:
        await runtime.close()


async def require_schema(runtime: Runtime) -> None:
    if await db.current_revision(runtime.engine) is None:
        raise CommandError("the database is not initialised: run `ayni init` (or `ayni migrate`) first")
