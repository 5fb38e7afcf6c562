"""`ayni backup DIR` and `ayni restore DIR [--force]`.

A backup is a directory of its own, every file mode 0600:

    ayni.db or ayni.pgdump   SQLite's online backup, or `pg_dump -Fc`
    ayni.toml                the config file, if there is one (its secret key seals meeting points)
    manifest.json            written last: what the database is, its schema revision, and the
                             fingerprint of the instance actor's public key

The database is the one every command uses (`ayni.settings.load`). A restore checks that the
instance actor's key is the manifest's: other servers refuse an actor whose key changed.
"""

import asyncio
import json
import os
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL, make_url

from ayni import __version__
from ayni import settings as settings_module
from ayni.commands import CommandError, load_settings, running
from federation import keys
from models import actors, db
from models.runtime import Runtime
from models.settings import Settings

MANIFEST = "manifest.json"
CONFIG = "ayni.toml"
DUMPS = {"sqlite": "ayni.db", "postgresql": "ayni.pgdump"}


def register(commands: Any) -> None:
    backup = commands.add_parser(
        "backup", help="back up the database (every actor's key) and the config into DIR"
    )
    backup.add_argument("directory", metavar="DIR", help="a new or empty directory")
    backup.set_defaults(run=cmd_backup)
    restore = commands.add_parser(
        "restore", help="restore a backup made by `ayni backup` into the configured database"
    )
    restore.add_argument("directory", metavar="DIR")
    restore.add_argument(
        "--force", action="store_true", help="replace a database that is not empty"
    )
    restore.set_defaults(run=cmd_restore)


async def cmd_backup(args: Any) -> None:
    settings = load_settings()
    url = make_url(settings.database_url)
    kind = url.get_backend_name()
    where = url.render_as_string(hide_password=True)
    if kind == "sqlite" and not Path(url.database or "").is_file():
        raise CommandError(f"nothing to back up: there is no database file {where}")
    directory = _new_directory(Path(args.directory))
    async with running(settings, initialised=False) as runtime:
        revision = await db.current_revision(runtime.engine)
        key = await _instance_key(runtime) if revision is not None else None
    if key is None:
        raise CommandError(
            f"nothing to back up: {where} has no instance (is AYNI_DATABASE_URL the right one?)"
        )
    dump = _private(directory / DUMPS[kind])
    if kind == "sqlite":
        await asyncio.to_thread(_copy_sqlite, Path(url.database or ""), dump)
    else:
        await _postgres("pg_dump", url, "--format=custom", f"--file={dump}")
    if dump.stat().st_size == 0:
        raise CommandError(f"the backup of {where} came out empty: {dump}")
    config = settings_module.config_path(os.environ)
    if config.is_file():
        _private(directory / CONFIG).write_bytes(config.read_bytes())
    actor_uri, fingerprint = key
    manifest = {
        "ayni": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": kind,
        "file": dump.name,
        "config": CONFIG if config.is_file() else None,
        "schema_revision": revision,
        "instance_actor": actor_uri,
        "public_key_fingerprint": fingerprint,
    }
    _private(directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"Backed up {where} (schema {revision}) to {directory}.")
    print(f"Instance actor {actor_uri}, key {fingerprint}")


async def cmd_restore(args: Any) -> None:
    directory = Path(args.directory)
    manifest = _read_manifest(directory)
    config = settings_module.config_path(os.environ)
    if manifest["config"] and not config.exists():
        _private(config).write_bytes((directory / CONFIG).read_bytes())
        print(f"Config restored to {config}.")
    elif manifest["config"] and config.read_bytes() != (directory / CONFIG).read_bytes():
        print(
            f"Kept {config}, which differs from the backup's {directory / CONFIG}: its secret "
            "key seals meeting points, compare the two.",
        )
    settings = load_settings()
    url = make_url(settings.database_url)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() != manifest["database"]:
        raise CommandError(
            f"this is a backup of a {manifest['database']} database and {where} is not one"
        )
    async with running(settings, initialised=False) as runtime:
        tables = await _tables(runtime)
    if tables and not args.force:
        raise CommandError(
            f"{where} is not empty ({len(tables)} tables): restoring replaces everything in it; "
            "add --force to do so"
        )
    dump = directory / manifest["file"]
    if url.get_backend_name() == "sqlite":
        await asyncio.to_thread(_restore_sqlite, dump, Path(url.database or ""))
    else:
        await _replace_postgres(settings, url, dump, tables)
    async with running(settings, current=False) as runtime:
        revision = await db.current_revision(runtime.engine)
        key = await _instance_key(runtime)
    if key is None or key[1] != manifest["public_key_fingerprint"]:
        found = key[1] if key else "none"
        raise CommandError(
            f"restored {where}, but its instance key is {found}, not the backup's "
            f"{manifest['public_key_fingerprint']}: do not serve it"
        )
    print(f"Restored {where} from {directory} (schema {revision}).")
    print(f"Instance actor {key[0]}, key {key[1]}: the one in the backup.")
    if db.schema_state(revision) == "behind":
        print("Next: ayni migrate")


async def _instance_key(runtime: Runtime) -> tuple[str, str] | None:
    """The instance actor's URI and key fingerprint, or None when there is none."""
    async with runtime.sessions() as session:
        try:
            actor = await actors.instance_actor(session)
        except LookupError:
            return None
        return runtime.uris.instance_actor(), keys.fingerprint(actor.key.public_key_pem)


async def _tables(runtime: Runtime) -> list[str]:
    def names(connection: Connection) -> list[str]:
        return list(inspect(connection).get_table_names())

    async with runtime.engine.connect() as connection:
        return await connection.run_sync(names)


def _new_directory(directory: Path) -> Path:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CommandError(f"{directory} is not an empty directory: give each backup its own")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def _private(path: Path) -> Path:
    """An empty file only its owner can read, whatever the umask."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    path.chmod(0o600)
    return path


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise CommandError(f"{directory} has no {MANIFEST}: not a whole `ayni backup`") from None
    except json.JSONDecodeError as e:
        raise CommandError(f"{directory / MANIFEST} is not valid JSON: {e}") from None
    if manifest.get("database") not in DUMPS or not (directory / str(manifest["file"])).is_file():
        raise CommandError(f"{directory / MANIFEST} names no database file that is there")
    return dict(manifest)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the server and workers keep writing."""
    import sqlite3  # here, not at the top: a server on PostgreSQL never loads SQLite

    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it


def _restore_sqlite(dump: Path, target: Path) -> None:
    import sqlite3

    if not target.exists():
        _private(target)
    with closing(sqlite3.connect(dump)) as saved, closing(sqlite3.connect(target)) as live:
        saved.backup(live)


async def _replace_postgres(settings: Settings, url: URL, dump: Path, tables: list[str]) -> None:
    """Drops what is there (with --force), then `pg_restore` in one transaction."""
    if tables:
        quoted = ", ".join(f'"{name}"' for name in tables)
        async with (
            running(settings, initialised=False) as runtime,
            runtime.engine.begin() as connection,
        ):
            await connection.execute(text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
    await _postgres(
        "pg_restore",
        url,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={url.database}",
        str(dump),
    )


async def _postgres(program: str, url: URL, *arguments: str) -> None:
    """pg_dump or pg_restore, told where to connect by libpq's environment: the password never
    appears on a command line (which every user of the machine can read)."""
    environment = {
        **os.environ,
        **{
            name: str(value)
            for name, value in (
                ("PGHOST", url.host or url.query.get("host")),  # or a socket directory
                ("PGPORT", url.port),
                ("PGUSER", url.username),
                ("PGPASSWORD", url.password),
                ("PGDATABASE", url.database),
            )
            if value
        },
    }
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            *arguments,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise CommandError(
            f"{program} is not installed: install the PostgreSQL client (postgresql-client), "
            "of the server's major version or newer"
        ) from None
    _, errors = await process.communicate()
    if process.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines() or ["no message"]
        raise CommandError(f"{program} failed ({process.returncode}): {lines[-1]}")
