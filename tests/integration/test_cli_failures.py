"""Every `ayni` command fails the same way: one line on stderr, exit status 1, no traceback.

In-process (`ayni.cli.main`): these are error paths, cheap enough to run for every command.
"""

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ayni.cli import build_parser, main
from tests.conftest import require_postgres

# `init`, `migrate` and `demo` make a schema (or a database of their own); every other command
# needs one. The fewest valid arguments for each; "nope" is a group that does not exist.
HANDLE = "@food@example.invalid"  # .invalid never resolves: nothing leaves this machine
MINIMAL = {
    "serve": ["serve"],
    "worker": ["worker"],
    "group create": ["group", "create", "food", "--title", "Food"],
    "group set": ["group", "set", "nope", "--retention-days", "7"],
    "retention run": ["retention", "run", "--dry-run"],
    "member add": ["member", "add", "rosa", "--group", "nope"],
    "member password": ["member", "password", "rosa", "--password-stdin"],
    "member export": ["member", "export", "rosa"],
    "member delete": ["member", "delete", "rosa"],
    "member email": ["member", "email", "rosa", "rosa@example.org"],
    "mail test": ["mail", "test", "rosa@example.org"],
    "invite": ["invite", "nope"],
    "queue status": ["queue", "status"],
    "queue retry": ["queue", "retry", "example.invalid"],
    "ask": ["ask", "nope", "--title", "Nappies", "--as-group"],
    "offer": ["offer", "nope", "--title", "Bread", "--as-group"],
    "call": [
        "call",
        "nope",
        "--title",
        "Move",
        "--as-group",
        "--starts",
        "2030-01-01T10:00",
        "--place",
        "Riverside",
        "--people",
        "2",
    ],
    "item close": ["item", "close", "1", "--status", "fulfilled"],
    "item rsvp": ["item", "rsvp", "1", "--member", "nobody"],
    "item attendees": ["item", "attendees", "1"],
    "item escalate": ["item", "escalate", "1"],
    "item reveal": ["item", "reveal", "1", "--to", "nobody"],
    "escrow revoke": ["escrow", "revoke", "1"],
    "escrow audit": ["escrow", "audit", "1"],
    "category add": ["category", "add", "nope", "legal", "--name", "Legal"],
    "category list": ["category", "list", "nope"],
    "items": ["items"],
    "match": ["match", "nope"],
    "federation follow": ["federation", "follow", "nope", HANDLE],
    "federation unfollow": ["federation", "unfollow", "nope", HANDLE],
    "federation ally": ["federation", "ally", "nope", HANDLE],
    "federation list": ["federation", "list", "nope"],
    "federation mode": ["federation", "mode", "open"],
    "federation allow": ["federation", "allow", "example.invalid"],
    "federation disallow": ["federation", "disallow", "example.invalid"],
    "federation block": ["federation", "block", "example.invalid"],
    "federation unblock": ["federation", "unblock", "example.invalid"],
    "federation blocks": ["federation", "blocks"],
    "federation import-blocks": ["federation", "import-blocks", "/nonexistent/blocks.csv"],
    "federation export-blocks": ["federation", "export-blocks"],
    "relay": ["relay", "nope", "https://example.invalid/items/1"],
    "moderation block": ["moderation", "block", "nope", HANDLE],
    "moderation unblock": ["moderation", "unblock", "nope", HANDLE],
    "moderation report": ["moderation", "report", "nope", HANDLE, "--comment", "spam"],
    "moderation reports": ["moderation", "reports", "nope"],
    "moderation submissions": ["moderation", "submissions", "nope"],
    "moderation follow-requests": ["moderation", "follow-requests", "nope"],
    "moderation approve": ["moderation", "approve", "nope", "1"],
    "moderation reject": ["moderation", "reject", "nope", "1"],
    "moderation accept": ["moderation", "accept", "nope", "1"],
    "moderation refuse": ["moderation", "refuse", "nope", "1"],
}
# `relay auto GROUP ALLY` is a form of `relay` that argparse does not see as a command, and
# `items --group` an option.
NAMING_A_GROUP = [args for args in MINIMAL.values() if "nope" in args] + [
    ["relay", "auto", "nope", HANDLE],
    ["items", "--group", "nope"],
]


def commands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every runnable command of the parser, by its words (`moderation block`)."""
    if parser.get_default("run") is not None:
        yield path, parser
    for action in parser._actions:  # argparse has no public way to list subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}".strip())


@pytest.fixture
def settings(clean_environ: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AYNI_CONFIG", str(clean_environ / "none.toml"))
    monkeypatch.setenv("AYNI_BASE_URL", "https://aid.example.org")
    return monkeypatch


def failures(
    argvs: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> dict[str, tuple[int, str, str]]:
    """Each command's exit status, standard output and standard error."""
    results = {}
    for argv in argvs:
        status = main(argv)
        out, err = capsys.readouterr()
        results[" ".join(argv)] = (status, out, err)
    return results


def test_the_table_has_every_command_that_needs_a_schema() -> None:
    parser = build_parser()
    # `backup` says there is nothing to back up; `restore` fills an empty database.
    own_schema = {"init", "migrate", "demo", "backup", "restore"}
    assert {path for path, _ in commands(parser)} - own_schema == set(MINIMAL)
    takes_a_group = {
        path
        for path, sub in commands(parser)
        if any(action.dest == "group" and not action.option_strings for action in sub._actions)
    }
    assert takes_a_group == {
        path for path, args in MINIMAL.items() if args[len(path.split()) :][:1] == ["nope"]
    }


def test_every_command_on_an_uninitialised_database_says_so_in_one_line(
    settings: pytest.MonkeyPatch, empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.setenv("AYNI_DATABASE_URL", empty_database_url)

    results = failures(list(MINIMAL.values()), capsys)

    expected = (
        "ayni: error: the database is not initialised: run `ayni init` (or `ayni migrate`) first\n"
    )
    assert results == {command: (1, "", expected) for command in results}


def test_every_command_on_a_database_out_of_reach_says_so_in_one_line(
    settings: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'ayni.db'}"
    settings.setenv("AYNI_DATABASE_URL", url)

    results = failures(list(MINIMAL.values()), capsys)

    expected = (
        f"ayni: error: cannot open the database {url}: "
        f"there is no directory {tmp_path / 'missing'}; create it or set AYNI_DATABASE_URL\n"
    )
    assert results == {command: (1, "", expected) for command in results}


@pytest.mark.parametrize("where", ["refused", "no such database"])
def test_an_unreachable_postgresql_is_named_without_its_password(
    settings: pytest.MonkeyPatch, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_url(
        require_postgres()
        if where == "no such database"
        else "postgresql+asyncpg://ayni@127.0.0.1:1"
    )
    url = server.set(password="s3cret", database="ayni_no_such_database")
    settings.setenv("AYNI_DATABASE_URL", url.render_as_string(hide_password=False))

    status = main(["items"])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"ayni: error: cannot open the database {url.render_as_string()}: "), err
    assert err.count("\n") == 1 and "s3cret" not in err
    if where == "no such database":
        assert err.endswith(
            ': database "ayni_no_such_database" does not exist; check that the server runs and '
            "the database exists, or set AYNI_DATABASE_URL\n"
        )


def test_every_command_naming_an_unknown_group_says_so_the_same_way(
    settings: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.setenv("AYNI_DATABASE_URL", database_url)

    results = failures(NAMING_A_GROUP, capsys)

    expected = "ayni: error: there is no group named 'nope'\n"
    assert results == {command: (1, "", expected) for command in results}


def test_the_worker_refuses_sqlite_in_one_line(
    settings: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a worker on PostgreSQL runs until stopped")
    settings.setenv("AYNI_DATABASE_URL", database_url)

    status = main(["worker"])

    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert err.startswith("ayni: error: ayni worker needs PostgreSQL: on SQLite, `ayni serve` ")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AYNI_LOG_FORMAT", "yaml"),
        ("AYNI_LOG_LEVEL", "loud"),
        ("AYNI_METRICS_TOKEN", "short"),
    ],
)
def test_a_bad_logging_or_metrics_setting_is_named_in_one_line(
    settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    settings.setenv(name, value)

    status = main(["queue", "status"])

    err = capsys.readouterr().err
    assert status == 1 and err.startswith(f"ayni: error: {name}: ") and err.count("\n") == 1
