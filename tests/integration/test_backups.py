"""`ayni init`, `ayni backup` and `ayni restore` as an admin runs them: the database named by
the settings every command reads, nothing lost, the instance key the same, files private.

In-process (`ayni.cli.main`), as tests/integration/test_cli_failures.py runs commands."""

import asyncio
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ayni import settings as settings_module
from ayni.cli import main
from models import db
from tests.populated import BASE_URL, populate, rows


@pytest.fixture
def settings(clean_environ: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AYNI_CONFIG", str(clean_environ / "ayni.toml"))
    return monkeypatch


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def with_password(url: str) -> str:
    """PostgreSQL's trust authentication ignores it; SQLite has none."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.set(password="s3cret").render_as_string(hide_password=False)


def test_init_uses_the_database_url_of_the_environment_as_every_command_does(
    settings: pytest.MonkeyPatch,
    empty_database_url: str,
    clean_environ: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = with_password(empty_database_url)
    settings.setenv("AYNI_DATABASE_URL", url)

    status = main(["init", "--base-url", BASE_URL, "--admin", "root"])
    out = capsys.readouterr().out
    created = main(["group", "create", "food", "--title", "Food"])

    shown = make_url(url).render_as_string(hide_password=True)
    assert status == 0 and created == 0
    assert f"Initialised {BASE_URL} in the database {shown};" in out
    assert "s3cret" not in out
    config = clean_environ / "ayni.toml"
    written = settings_module.read_config_file(config)
    assert set(written) == {"AYNI_BASE_URL", "AYNI_SECRET_KEY"}  # the URL stays in the environment
    assert mode(config) == 0o600


def test_the_sqlite_database_its_wal_and_shm_and_the_config_are_private(
    settings: pytest.MonkeyPatch, clean_environ: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = clean_environ / "ayni.db"
    settings.setenv("AYNI_DATABASE_URL", f"sqlite+aiosqlite:///{database}")

    assert main(["init", "--base-url", BASE_URL, "--admin", "root"]) == 0, capsys.readouterr()

    with sqlite3.connect(database) as connection:  # WAL: the first write makes -wal and -shm
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("UPDATE local_actors SET name = name")
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert {str(f): mode(f) for f in files} == {str(f): 0o600 for f in files}
    assert mode(clean_environ / "ayni.toml") == 0o600


def test_a_restored_backup_has_every_row_and_the_same_instance_key(
    settings: pytest.MonkeyPatch,
    database_url: str,
    empty_database_url: str,
    clean_environ: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(populate(database_url))
    settings_module.write_config_file(
        clean_environ / "ayni.toml", {"base_url": BASE_URL, "secret_key": "the instance's"}
    )
    settings.setenv("AYNI_DATABASE_URL", with_password(database_url))
    backup = clean_environ / "backups" / "monday"

    backed_up = main(["backup", str(backup)])
    out = capsys.readouterr().out

    assert backed_up == 0, out
    manifest = json.loads((backup / "manifest.json").read_text())
    fingerprint = manifest["public_key_fingerprint"]
    assert fingerprint.startswith("sha256:") and fingerprint in out
    assert manifest["schema_revision"] == db.revisions()[-1]
    assert mode(backup) == 0o700
    assert {f.name: mode(f) for f in backup.iterdir()} == {
        name: 0o600 for name in ("manifest.json", manifest["file"], "ayni.toml")
    }
    assert "s3cret" not in (backup / manifest["file"]).read_bytes().decode(errors="replace")

    # On another machine: no config yet, an empty database
    settings.setenv("AYNI_CONFIG", str(clean_environ / "elsewhere.toml"))
    settings.setenv("AYNI_DATABASE_URL", empty_database_url)
    restored = main(["restore", str(backup)])
    out = capsys.readouterr().out

    assert restored == 0, out
    assert f"key {fingerprint}: the one in the backup" in out
    assert (clean_environ / "elsewhere.toml").read_bytes() == (backup / "ayni.toml").read_bytes()
    assert asyncio.run(rows(empty_database_url)) == asyncio.run(rows(database_url))

    # Once there is something in it, only --force replaces it
    again = main(["restore", str(backup)])
    err = capsys.readouterr().err
    assert again == 1
    assert err.endswith("restoring replaces everything in it; add --force to do so\n"), err
    assert main(["restore", str(backup), "--force"]) == 0
    assert asyncio.run(rows(empty_database_url)) == asyncio.run(rows(database_url))


@pytest.mark.parametrize("what", ["no instance", "no schema"])
def test_a_backup_of_a_database_without_an_instance_fails(
    settings: pytest.MonkeyPatch,
    database_urls: object,
    clean_environ: Path,
    what: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import DatabaseUrls

    assert isinstance(database_urls, DatabaseUrls)
    url = asyncio.run(database_urls.new(migrated=what == "no instance"))
    settings.setenv("AYNI_DATABASE_URL", url)
    settings.setenv("AYNI_BASE_URL", BASE_URL)

    status = main(["backup", str(clean_environ / "backup")])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("ayni: error: nothing to back up: ") and err.count("\n") == 1, err
    assert not (clean_environ / "backup" / "manifest.json").exists()


def test_a_backup_of_a_sqlite_file_that_is_not_there_fails_and_makes_none(
    settings: pytest.MonkeyPatch, clean_environ: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.setenv("AYNI_DATABASE_URL", f"sqlite+aiosqlite:///{clean_environ / 'typo.db'}")
    settings.setenv("AYNI_BASE_URL", BASE_URL)

    status = main(["backup", str(clean_environ / "backup")])

    assert status == 1
    assert capsys.readouterr().err.startswith("ayni: error: nothing to back up: there is no ")
    assert not (clean_environ / "typo.db").exists()
