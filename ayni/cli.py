"""The `ayni` command. Errors are one line on stderr and a non-zero exit."""

import argparse
import asyncio
import dataclasses
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ayni import (
    __version__,
    cli_accounts,
    cli_backups,
    cli_calls,
    cli_federation,
    cli_items,
    cli_mail,
    cli_moderation,
    cli_retention,
    eventloop,
    logs,
)
from ayni import settings as settings_module
from ayni.commands import (
    FAILURES,
    CommandError,
    command,
    find_group,
    find_member,
    load_settings,
    running,
    transaction,
)
from federation import calls
from federation.visibility import Visibility
from models import actors, db, invitations, member_sessions, passwords, push
from models.actors import ActorType, Instance, Role
from models.runtime import Runtime
from models.settings import DEFAULT_DATABASE_URL, Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        log_format, level = settings_module.logging_of(settings_module.values_of(os.environ))
    except settings_module.SettingsError as e:
        print(f"ayni: error: {e}", file=sys.stderr)
        return 1
    # Admin commands print their own results; long-running ones (serve, worker, demo) log.
    long_running = args.run in (cmd_serve, cmd_worker, cmd_demo)
    logs.configure(log_format, level or ("info" if long_running else "warning"))
    # Whatever a command creates (the SQLite database and its -wal and -shm, ayni.toml, backups)
    # holds keys: readable by this user only. Put back after, for callers in the same process.
    umask = os.umask(0o077)
    try:
        eventloop.run(args.run(args))
    except FAILURES as e:
        print(f"ayni: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ayni", description="Ayni: federated mutual aid for local groups."
    )
    parser.add_argument("--version", action="version", version=f"ayni {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = commands.add_parser(
        "init", help="create the database, the instance actor and the first admin"
    )
    init.add_argument(
        "--base-url", required=True, help="the public origin, e.g. https://aid.example.org"
    )
    init.add_argument(
        "--database-url",
        help="default: AYNI_DATABASE_URL, else the config file's database_url, else "
        f"{DEFAULT_DATABASE_URL}",
    )
    init.add_argument(
        "--admin", required=True, metavar="USERNAME", help="the first admin's username"
    )
    init.add_argument(
        "--password-stdin", action="store_true", help="read the admin's password from stdin"
    )
    init.set_defaults(run=cmd_init)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(run=cmd_migrate)

    serve = commands.add_parser(
        "serve", help="serve HTTP and run the queue workers in this process"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)

    worker = commands.add_parser(
        "worker", help="run only the queue workers (for PostgreSQL deployments)"
    )
    worker.set_defaults(run=cmd_worker)

    demo = commands.add_parser("demo", help="serve a throw-away SQLite instance with a demo group")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=cmd_demo)

    group = commands.add_parser("group", help="manage groups").add_subparsers(
        title="group commands", metavar="COMMAND"
    )
    create = group.add_parser("create", help="create a group")
    create.add_argument(
        "name", help="lowercase [a-z0-9_], 1-30 characters; the handle is @NAME@host"
    )
    create.add_argument("--title", required=True)
    create.add_argument("--summary", default="")
    create.add_argument(
        "--manual-approval", action="store_true", help="hold follow requests for moderators"
    )
    create.add_argument(
        "--language",
        choices=calls.LANGUAGES,
        default="en",
        help="of its polls and messages about calls (default en)",
    )
    create.set_defaults(run=cmd_group_create)
    cli_retention.register_group(group)

    queue = commands.add_parser("queue", help="inspect the delivery queue").add_subparsers(
        title="queue commands", metavar="COMMAND"
    )
    queue.add_parser(
        "status",
        help="counts by state, the oldest due delivery per host, the mail and push queues",
    ).set_defaults(run=cmd_queue_status)
    retry = queue.add_parser("retry", help="make a host's pending deliveries due now")
    retry.add_argument("host", help="host[:port], as `queue status` shows it")
    retry.set_defaults(run=cmd_queue_retry)

    cli_federation.register(commands)
    cli_items.register(commands)
    cli_calls.register(commands)
    cli_moderation.register(commands)
    cli_retention.register(commands)
    cli_mail.register(commands)
    cli_backups.register(commands)

    member = commands.add_parser("member", help="manage members").add_subparsers(
        title="member commands", metavar="COMMAND"
    )
    add = member.add_parser("add", help="add a member, or add an existing member to a group")
    add.add_argument("username", help="lowercase [a-z0-9_], 1-30 characters")
    add.add_argument("--group", help="the group to join")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(run=cmd_member_add)
    password = member.add_parser(
        "password", help="set a member's password; signs her out everywhere"
    )
    password.add_argument("username")
    password.add_argument(
        "--password-stdin", action="store_true", required=True, help="read the password from stdin"
    )
    password.set_defaults(run=cmd_member_password)
    cli_accounts.register_member(member)
    cli_mail.register_member(member)

    invite = commands.add_parser("invite", help="print a one-time invitation link to join a group")
    invite.add_argument("group")
    invite.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
    invite.set_defaults(run=cmd_invite)
    return parser


def read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CommandError("--password-stdin: no password on standard input")
    return password


async def cmd_init(args: argparse.Namespace) -> None:
    """Settings as every command reads them (`ayni.settings.load`: the environment, then the
    file), under what the command line says."""
    given = {"AYNI_BASE_URL": args.base_url}
    if args.database_url:
        given["AYNI_DATABASE_URL"] = args.database_url
    settings = settings_module.load({**os.environ, **given})
    if not settings.secret_key:
        settings = dataclasses.replace(settings, secret_key=secrets.token_urlsafe(32))
    actors.validate_name(args.admin)
    password = read_password(args)
    async with running(settings, initialised=False) as runtime:
        await db.upgrade(runtime.engine)
        async with runtime.sessions() as session, session.begin():
            try:
                await actors.instance_actor(session)
            except LookupError:
                pass
            else:
                raise CommandError("this database is already initialised")
            await actors.create_instance(session, settings.base_url, settings.host)
            await push.private_key(session)  # the VAPID key, made now rather than on first use
            await actors.create_member(session, args.admin, password, is_admin=True)
    path = settings_module.config_path(os.environ)
    written = {
        **settings_module.read_config_file(path),
        "AYNI_BASE_URL": settings.base_url,
        **({"AYNI_DATABASE_URL": settings.database_url} if args.database_url else {}),
    }
    # What the environment sets stays there (a password in AYNI_DATABASE_URL is not copied
    # into a file); the file holds the rest, a generated secret key included.
    for key, value in (
        ("AYNI_DATABASE_URL", settings.database_url),
        ("AYNI_SECRET_KEY", settings.secret_key),
    ):
        if key not in os.environ:
            written.setdefault(key, value)
    settings_module.write_config_file(path, {k[5:].lower(): v for k, v in written.items()})
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"Initialised {settings.base_url} in the database {where}; settings written to {path}.")
    print(f"Admin: {args.admin}. Next: ayni group create NAME --title TITLE")


async def cmd_migrate(args: argparse.Namespace) -> None:
    async with running(load_settings(), initialised=False) as runtime:
        await db.upgrade(runtime.engine)
        print(f"Database at revision {await db.current_revision(runtime.engine)}.")


@transaction
async def cmd_group_create(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    group = await actors.create_group(
        session, args.name, args.title, args.summary, args.manual_approval
    )
    group.language = args.language
    return f"Created group @{args.name}@{runtime.settings.host} ({runtime.uris.actor(args.name)})"


@transaction
async def cmd_member_add(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    password = read_password(args)  # before the first query, which starts the transaction
    report = []
    member = await actors.find_actor(session, args.username)
    if member is None:
        member = await actors.create_member(session, args.username, password, args.display_name)
        report.append(f"Created member @{member.username}@{runtime.settings.host}")
    elif member.type != ActorType.PERSON or not args.group:
        raise actors.NameTaken(f"the name {args.username!r} is already taken by a group or member")
    if args.group:
        group = await find_group(session, args.group)
        await actors.join_group(session, group, member, Role(args.role))
        report.append(f"@{member.username} is a {args.role} of @{group.username}")
    return "\n".join(report)


@command
async def cmd_member_password(args: argparse.Namespace, runtime: Runtime) -> None:
    password = read_password(args)
    assert password is not None  # --password-stdin is required
    # Hashed before the transaction: Argon2 takes a while at production strength.
    password_hash = passwords.hash_password(password)
    async with runtime.sessions() as session, session.begin():
        member = await find_member(session, args.username)
        ended = await member_sessions.new_password(session, member, password_hash)
    print(f"New password set for @{member.username}; {ended} signed-in session(s) ended.")


@command
async def cmd_invite(args: argparse.Namespace, runtime: Runtime) -> None:
    async with runtime.sessions() as session, session.begin():
        token = await invitations.invite(
            session, await find_group(session, args.group), Role(args.role)
        )
    # Only its hash is stored: this is the one time the link is shown.
    print(f"{runtime.settings.base_url}/invite/{token}")
    print(
        f"Joins @{args.group} as {args.role}; works once, "
        f"expires in {invitations.VALID_FOR.days} days.",
        file=sys.stderr,
    )


@transaction
async def cmd_queue_status(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    from outbox import status

    return "\n".join((await status.queue_status(session)).lines())


@transaction
async def cmd_queue_retry(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    from outbox import status

    count = await status.retry_host(session, args.host.lower())
    return f"{count} deliveries to {args.host} are due now."


def started(process: str, runtime: Runtime, revision: str | None) -> None:
    """The first line of every long-running process: what an operator checks after an upgrade."""
    from ayni.workers import queue_workers

    workers = list(queue_workers(runtime.settings))
    logging.getLogger("ayni").info(
        "ayni %s %s: database %s, schema %s, workers %s",
        __version__,
        process,
        "sqlite" if runtime.settings.is_sqlite else "postgresql",
        revision,
        ", ".join(workers),
    )


async def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from ayni.app import create_app

    async with running(settings) as runtime:  # fail here, in one line, not in the first request
        started("serve", runtime, await db.current_revision(runtime.engine))
    eventloop.tune_gc()
    # Forwarded headers are read by the app itself, from AYNI_TRUSTED_PROXIES only.
    app = create_app(settings, workers=True)
    # No WebSockets are served, and uvicorn's WebSocket road logs the client's address.
    # Logging as every command logs (`ayni.logs`): no config or level of uvicorn's own.
    config = uvicorn.Config(
        app, host=host, port=port, proxy_headers=False, ws="none", log_config=None
    )
    await uvicorn.Server(config).serve()


async def cmd_serve(args: argparse.Namespace) -> None:
    await serve(load_settings(), args.host, args.port)


@command
async def cmd_worker(args: argparse.Namespace, runtime: Runtime) -> None:
    import signal

    from ayni.workers import queue_workers

    if runtime.settings.is_sqlite:
        raise CommandError(
            "ayni worker needs PostgreSQL: on SQLite, `ayni serve` runs the queue workers itself "
            "(SQLite has one writer; another process would only wait for it)"
        )
    eventloop.tune_gc()
    started("worker", runtime, await db.current_revision(runtime.engine))

    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # finish or release in-flight rows, then exit
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await asyncio.gather(*(run(runtime, stop) for run in queue_workers(runtime.settings).values()))


async def seed_items(
    runtime: Runtime,
    session: AsyncSession,
    group: actors.LocalActor,
    ana: actors.LocalActor,
    ben: actors.LocalActor,
) -> None:
    """A few sample asks, offers and calls for the demo group."""
    from datetime import UTC, datetime, timedelta

    from federation.itemterms import Kind
    from federation.places import Place
    from models.posting import Draft, create_item

    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    for author, draft in (
        (
            ben,
            Draft(
                Kind.ASK,
                "Nappies, size 4",
                "Two packs would get us to payday.",
                "goods",
                quantity=2,
                place=Place("Riverside"),
                needed_by=soon,
            ),
        ),
        (
            ana,
            Draft(
                Kind.OFFER,
                "Bread every evening",
                "The bakery gives us what is left at closing.",
                "food",
                as_group=True,
                quantity=10,
                place=Place("Riverside market"),
            ),
        ),
        (
            ben,
            Draft(
                Kind.ASK,
                "A lift to the clinic on Thursday",
                "",
                "transport",
                visibility=Visibility.FOLLOWERS,
            ),
        ),
        (
            ana,
            Draft(
                Kind.CALL,
                "Help us move Maria's family",
                "Boxes and a van; bring gloves.",
                "housing",
                as_group=True,
                starts_at=soon,
                ends_at=soon + timedelta(hours=3),
                people_wanted=6,
                place=Place("Riverside"),
                meeting_point="the community centre",
            ),
        ),
    ):
        await create_item(session, runtime.uris, group, author, draft, seal=runtime.seal)


def _port_free(port: int) -> None:
    """Say how to choose another port before anything is made, not in uvicorn's bind error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise CommandError(
                f"port {port} is in use; choose another: PORT={port + 1} make run "
                f"(or ayni demo --port {port + 1})"
            ) from None


async def cmd_demo(args: argparse.Namespace) -> None:
    _port_free(args.port)
    directory = Path(tempfile.mkdtemp(prefix="ayni-demo-"))
    settings = Settings(
        base_url=f"http://127.0.0.1:{args.port}",
        database_url=f"sqlite+aiosqlite:///{directory / 'demo.db'}",
        secret_key=secrets.token_urlsafe(32),
    )

    try:
        async with running(settings, initialised=False) as runtime:
            await db.upgrade(runtime.engine)
            async with runtime.sessions() as session, session.begin():
                await actors.create_instance(session, settings.base_url, settings.host)
                instance = await session.scalar(select(Instance))
                assert instance is not None
                instance.name = "Riverside Neighbours"
                instance.summary = (
                    "Where Riverside's mutual-aid groups post what their neighbours need and "
                    "can offer, and call people together: no ads, no tracking, and followable "
                    "from Mastodon or a similar app."
                )
                group = await actors.create_group(
                    session,
                    "mutualaid",
                    "Riverside Mutual Aid",
                    "Neighbours helping neighbours: food, rides, childcare and rapid response.",
                )
                ana = await actors.create_member(
                    session, "ana", "demo-password", "Ana", is_admin=True
                )
                ben = await actors.create_member(session, "ben", "demo-password", "Ben")
                await actors.join_group(session, group, ana, Role.ADMIN)
                await actors.join_group(session, group, ben, Role.MEMBER)
                await seed_items(runtime, session, group, ana, ben)
        print(f"Open the demo group's page: {settings.base_url}/@mutualaid", flush=True)
        print(
            f"Follow it from Mastodon or a similar app as @mutualaid@{settings.host}",
            flush=True,
        )
        print(
            "Members: ana (admin), ben; password: demo-password. The data is deleted on exit.",
            flush=True,
        )
        await serve(settings, "127.0.0.1", args.port)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
