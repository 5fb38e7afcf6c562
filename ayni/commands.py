"""What every `ayni` command needs: settings, a runtime for the length of the command on a
database `ayni init` has set up, one kind of user-facing error, and the group or member it names.

    @command
    async def cmd_follow(args: Namespace, runtime: Runtime) -> None:
        ...  # the network first, then its own transaction

    @transaction
    async def cmd_allow(args: Namespace, runtime: Runtime, session: AsyncSession) -> str:
        ...  # one transaction; what it returns is printed once it is committed
"""

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ayni import __version__
from ayni import settings as settings_module
from federation.errors import FederationError
from models import actors, db
from models.actors import ActorType, LocalActor
from models.runtime import Runtime
from models.settings import Settings


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# What a command may fail with that is the user's to fix: bad input, a refusal (NotAllowed is a
# PermissionError), a file or server out of reach, a migration that would lose rows. One line
# each; anything else is a bug and keeps its traceback.
FAILURES = (CommandError, ValueError, LookupError, OSError, FederationError, db.MigrationError)

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, None]]


def load_settings() -> Settings:
    return settings_module.load()


@asynccontextmanager
async def running(
    settings: Settings, *, initialised: bool = True, current: bool = True
) -> AsyncIterator[Runtime]:
    """A runtime for the length of a command, once the database answered and has a schema
    (unless `initialised=False`: `init`, `migrate`, `demo`) at the revision this code needs
    (unless `current=False`: `backup` and `restore` take any)."""
    runtime = Runtime.build(settings, version=__version__)
    try:
        revision = await _revision(runtime)
        if initialised:
            check_schema(revision, current)
        yield runtime
    finally:
        await runtime.close()


def check_schema(revision: str | None, current: bool = True) -> None:
    state = db.schema_state(revision)
    if state == "missing":
        raise CommandError(
            "the database is not initialised: run `ayni init` (or `ayni migrate`) first"
        )
    needs = db.revisions()[-1]
    if current and state == "behind":
        raise CommandError(
            f"the database schema is at {revision}, this version needs {needs}: run `ayni migrate`"
        )
    if current and state == "ahead":
        raise CommandError(
            f"the database schema is at {revision}, which this version does not know (it "
            f"needs {needs}): a newer Ayni migrated it; install that version again"
        )


async def _revision(runtime: Runtime) -> str | None:
    """The first query of every command, so a database out of reach fails here in one line
    that says what to do."""
    url = make_url(runtime.settings.database_url)
    where = url.render_as_string(hide_password=True)
    # SQLite makes a missing file, not a missing directory. Checked first: a failed aiosqlite
    # connect leaves a thread that may outlive the event loop and print a traceback.
    directory = Path(url.database or "").parent
    if url.get_backend_name() == "sqlite" and not directory.is_dir():
        raise CommandError(
            f"cannot open the database {where}: there is no directory {directory}; "
            "create it or set AYNI_DATABASE_URL"
        )
    try:
        return await db.current_revision(runtime.engine)
    except (OSError, DBAPIError) as e:
        reason = " ".join(str(e.orig if isinstance(e, DBAPIError) else e).split())
        raise CommandError(
            f"cannot open the database {where}: {reason}; check that the server runs and the "
            "database exists, or set AYNI_DATABASE_URL"
        ) from None


def command(work: Callable[[argparse.Namespace, Runtime], Awaitable[None]]) -> Command:
    """A command that opens its own transactions, e.g. after fetching from the network."""

    async def run(args: argparse.Namespace) -> None:
        async with running(load_settings()) as runtime:
            await work(args, runtime)

    return run


def transaction(
    work: Callable[[argparse.Namespace, Runtime, AsyncSession], Awaitable[str | None]],
) -> Command:
    """A command that only touches the database, in one transaction. Its report is printed
    after the commit, so nothing claims a change that was rolled back."""

    async def run(args: argparse.Namespace) -> None:
        async with running(load_settings()) as runtime:
            async with runtime.sessions() as session, session.begin():
                report = await work(args, runtime, session)
            if report:
                print(report)

    return run


async def find_group(session: AsyncSession, name: str) -> LocalActor:
    return await _find(session, name, ActorType.GROUP, "group")


async def find_member(session: AsyncSession, name: str) -> LocalActor:
    return await _find(session, name, ActorType.PERSON, "member")


async def _find(session: AsyncSession, name: str, type: ActorType, noun: str) -> LocalActor:
    actor = await actors.find_actor(session, name)
    if actor is None or actor.type != type:
        raise CommandError(f"there is no {noun} named {name!r}")
    return actor
