"""The `ayni` command, run as an organiser would run it."""

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

AYNI = [sys.executable, "-m", "ayni"]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AYNI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def init(
    env: dict[str, str], database_url: str, base_url: str = "https://aid.example.org"
) -> subprocess.CompletedProcess[str]:
    """`ayni init` with the admin `root` and no password."""
    args = ["init", "--base-url", base_url, "--database-url", database_url, "--admin", "root"]
    return run(args, env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli_env(clean_environ: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
    env["AYNI_CONFIG"] = str(clean_environ / "ayni.toml")
    return env


async def test_init_group_and_member_make_a_handle_that_resolves(
    cli_env: dict[str, str], database_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    init = run(
        [
            "init",
            "--base-url",
            base,
            "--database-url",
            database_url,
            "--admin",
            "root",
            "--password-stdin",
        ],
        cli_env,
        "a long enough password\n",
    )
    group = run(
        ["group", "create", "tenants", "--title", "Tenants' Union", "--manual-approval"], cli_env
    )
    member = run(["member", "add", "rosa", "--group", "tenants", "--role", "moderator"], cli_env)

    assert (init.returncode, group.returncode, member.returncode) == (0, 0, 0), (
        init.stderr + group.stderr + member.stderr
    )
    server = subprocess.Popen(  # noqa: ASYNC220  fork and exec, no wait: does not block the loop
        [*AYNI, "serve", "--port", str(port)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        finger = None
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(100):
                try:
                    finger = await http.get(
                        "/.well-known/webfinger",
                        params={"resource": f"acct:tenants@127.0.0.1:{port}"},
                    )
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert finger is not None and finger.status_code == 200
            href = next(link["href"] for link in finger.json()["links"] if link["rel"] == "self")
            actor = (await http.get(href, headers={"Accept": "application/activity+json"})).json()
            member_finger = await http.get(
                "/.well-known/webfinger", params={"resource": f"acct:rosa@127.0.0.1:{port}"}
            )
    finally:
        server.terminate()
        server.communicate(timeout=10)  # reaps it and closes its pipe
    assert actor["type"] == "Group"
    assert actor["manuallyApprovesFollowers"] is True
    assert member_finger.status_code == 200


async def test_taken_and_invalid_names_fail_cleanly(
    cli_env: dict[str, str], database_url: str
) -> None:
    assert init(cli_env, database_url).returncode == 0
    assert run(["group", "create", "food", "--title", "Food"], cli_env).returncode == 0

    taken_group = run(["group", "create", "food", "--title", "Again"], cli_env)
    taken_by_group = run(["member", "add", "food"], cli_env)
    invalid = run(["group", "create", "Bad-Name", "--title", "X"], cli_env)
    no_group = run(["member", "add", "rosa", "--group", "nowhere"], cli_env)
    again = run(
        [
            "init",
            "--base-url",
            "https://aid.example.org",
            "--database-url",
            database_url,
            "--admin",
            "other",
        ],
        cli_env,
    )

    for result in (taken_group, taken_by_group, invalid, no_group, again):
        assert result.returncode == 1
        assert result.stderr.startswith("ayni: error: ")
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "already taken" in taken_group.stderr
    assert "invalid name" in invalid.stderr
    # Nothing half-written: the member of the failed --group call was rolled back with it.
    assert run(["member", "add", "rosa"], cli_env).returncode == 0


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["group", "create", "--help"],
        ["member", "add", "--help"],
        ["member", "password", "--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["demo", "--help"],
        ["migrate", "--help"],
    ):
        result = subprocess.run(
            [*AYNI, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, args
        assert "usage: ayni" in result.stdout


async def test_demo_serves_its_group_actor(clean_environ: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
    server = subprocess.Popen(  # noqa: ASYNC220  fork and exec, no wait: does not block the loop
        [*AYNI, "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        actor = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(150):
                try:
                    actor = await http.get(
                        "/actors/mutualaid", headers={"Accept": "application/activity+json"}
                    )
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert actor is not None and actor.status_code == 200, output
    assert actor.json()["type"] == "Group"
    assert f"@mutualaid@127.0.0.1:{port}" in output
    assert f"http://127.0.0.1:{port}/@mutualaid" in output  # the group's page, for a person


def test_demo_on_a_taken_port_says_how_to_choose_another(clean_environ: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
        result = subprocess.run(
            [*AYNI, "demo", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr


async def test_ask_offer_call_items_and_close_from_the_command_line(
    cli_env: dict[str, str], database_url: str
) -> None:
    import json

    assert init(cli_env, database_url, "http://127.0.0.1:8999").returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0
    assert run(["member", "add", "rosa", "--group", "food"], cli_env).returncode == 0
    ask = [
        "ask",
        "food",
        "--title",
        "Nappies",
        "--member",
        "rosa",
        "--category",
        "goods",
        "--place",
        "Riverside",
        "--point",
        "40.4168,-3.7038",
        "--needed-by",
        "2030-01-01",
        "--body",
        "Ring me on +31 6 1234 5678",
    ]

    # An ask with a phone number in it is refused until the member confirms
    refused = run(ask, cli_env)
    assert refused.returncode == 1 and "+31 6 1234 5678" in refused.stderr
    posted = [
        run([*ask, "--confirm-personal-data"], cli_env),
        run(
            [
                "offer",
                "food",
                "--title",
                "Bread",
                "--quantity",
                "3",
                "--category",
                "food",
            ],
            cli_env,
        ),
        run(
            [
                "call",
                "food",
                "--title",
                "Stop the eviction",
                "--as-group",
                "--starts",
                "2030-12-05T09:00",
                "--ends",
                "2030-12-05T12:00",
                "--place",
                "Lavapiés",
                "--people",
                "20",
                "--timezone",
                "Europe/Madrid",
                "--meeting-point",
                "the square",
                "--point",
                "40.4086,-3.7008",
            ],
            cli_env,
        ),
    ]
    assert [p.returncode for p in posted] == [0, 0, 0], "".join(p.stderr for p in posted)

    listed = json.loads(run(["items", "--json"], cli_env).stdout)
    assert [(i["kind"], i["status"], i["category"]) for i in listed] == [
        ("ask", "open", "goods"),
        ("offer", "open", "food"),
        ("call", "scheduled", "other"),
    ]
    assert listed[0]["latitude"] != 40.4168  # coarsened before it was stored
    # Rosa's ask is hers; the offer, posted without --member, is the group's
    assert [i["as_group"] for i in listed] == [False, True, True]
    ask_id = str(listed[0]["id"])

    wrong = run(["item", "close", ask_id, "--status", "cancelled"], cli_env)
    assert wrong.returncode == 1 and "fulfilled" in wrong.stderr
    closed = run(["item", "close", ask_id, "--status", "fulfilled"], cli_env)
    assert closed.returncode == 0, closed.stderr

    asks = json.loads(run(["items", "--kind", "ask", "--json"], cli_env).stdout)
    assert [(i["title"], i["status"]) for i in asks] == [("Nappies", "fulfilled")]
    near = json.loads(
        run(["items", "--near", "40.41,-3.70", "--within", "5", "--json"], cli_env).stdout
    )
    assert sorted(i["title"] for i in near) == ["Nappies", "Stop the eviction"]
    far = json.loads(
        run(["items", "--near", "41.39,2.17", "--within", "5", "--json"], cli_env).stdout
    )
    assert far == []


async def test_admins_add_categories_with_stable_uris(
    cli_env: dict[str, str], database_url: str
) -> None:
    import json

    assert init(cli_env, database_url, "http://127.0.0.1:8999").returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0

    added = run(
        ["category", "add", "food", "immigration", "--name", "Immigration support"], cli_env
    )
    again = run(["category", "add", "food", "immigration", "--name", "Again"], cli_env)
    invalid = run(["category", "add", "food", "Bad Slug", "--name", "X"], cli_env)
    narrower = run(
        ["category", "add", "food", "baby_food", "--name", "Baby food", "--broader", "food"],
        cli_env,
    )
    not_default = run(
        ["category", "add", "food", "jars", "--name", "Jars", "--broader", "baby_food"], cli_env
    )
    listed = run(["category", "list", "food"], cli_env).stdout.splitlines()
    posted = run(
        [
            "ask",
            "food",
            "--title",
            "A lawyer for Monday",
            "--as-group",
            "--category",
            "immigration",
        ],
        cli_env,
    )

    uri = "http://127.0.0.1:8999/actors/food/categories/immigration"
    assert added.returncode == 0 and uri in added.stdout
    assert again.returncode == 1 and "already has a category" in again.stderr
    assert invalid.returncode == 1 and "invalid category" in invalid.stderr
    # Without --broader a group's own category narrows "other"; --broader names a default one
    assert "narrows other" in added.stdout and "narrows food" in narrower.stdout
    assert not_default.returncode == 1
    assert not_default.stderr.strip().splitlines() == [
        (
            "ayni: error: broader must be a default category (food, housing, transport, "
            "childcare, health, money, goods, skills, care, legal, other), not 'baby_food'"
        )
    ]
    assert len(listed) == 13 and listed[0] == f"food\tFood\t-\t{uri[: -len('immigration')]}food"
    assert listed[-2] == f"immigration\tImmigration support\tother\t{uri}"
    assert listed[-1].startswith("baby_food\tBaby food\tfood\t")
    assert not any(line.startswith("jars") for line in listed)  # nothing half-written
    assert posted.returncode == 0, posted.stderr
    assert json.loads(run(["items", "--json"], cli_env).stdout)[0]["category"] == "immigration"


async def test_member_password_sets_a_new_password_and_ends_her_sessions(
    cli_env: dict[str, str], database_url: str
) -> None:
    from models import actors, db, member_sessions, passwords

    assert init(cli_env, database_url).returncode == 0
    assert (
        run(
            ["member", "add", "rosa", "--password-stdin"], cli_env, "the first password\n"
        ).returncode
        == 0
    )
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session, session.begin():
            rosa = await actors.find_actor(session, "rosa")
            assert rosa is not None
            await member_sessions.start(session, rosa)

        changed = run(
            ["member", "password", "rosa", "--password-stdin"], cli_env, "a second password\n"
        )
        nobody = run(
            ["member", "password", "nobody", "--password-stdin"], cli_env, "a second password\n"
        )
        too_short = run(["member", "password", "rosa", "--password-stdin"], cli_env, "short\n")

        async with db.sessionmaker(engine)() as session:
            rosa = await actors.find_actor(session, "rosa")
            assert rosa is not None
            left = await member_sessions.end_all(session, rosa.id)
    finally:
        await engine.dispose()
    assert changed.returncode == 0, changed.stderr
    assert "1 signed-in session(s) ended" in changed.stdout
    assert passwords.verify_password(rosa.password_hash, "a second password")
    # Hashed at production strength (argon2-cffi's RFC 9106 low-memory profile), not the suite's.
    assert rosa.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert left == 0
    for failed in (nobody, too_short):
        assert failed.returncode == 1 and failed.stderr.startswith("ayni: error: ")
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr


async def test_a_call_from_the_command_line_commits_counts_escalates_and_audits(
    cli_env: dict[str, str], database_url: str
) -> None:
    import json

    assert init(cli_env, database_url, "http://127.0.0.1:8999").returncode == 0
    made = [
        run(
            ["group", "create", "inquilinas", "--title", "Inquilinas", "--language", "es"], cli_env
        ),
        run(["member", "add", "rosa", "--group", "inquilinas"], cli_env),
        run(["member", "add", "root", "--group", "inquilinas", "--role", "admin"], cli_env),
    ]
    assert [m.returncode for m in made] == [0, 0, 0], "".join(m.stderr for m in made)
    call = [
        "call",
        "inquilinas",
        "--title",
        "Parar el desahucio",
        "--as-group",
        "--starts",
        "2030-12-05T09:00",
        "--ends",
        "2030-12-05T12:00",
        "--place",
        "Lavapiés",
        "--people",
        "2",
        "--timezone",
        "Europe/Madrid",
        "--needed-by",
        "2030-12-05T06:00",
        "--capacity",
        "5",
        "--no-ally-relay",
        "--not-urgent",
        "--reveal-inline",
    ]
    # A bad duration is one line; the meeting point (a street address) needs no confirmation
    bad = run([*call, "--reveal-before", "two hours"], cli_env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "90m, 2h or 1d" in bad.stderr
    posted = run(
        [*call, "--reveal-before", "2h", "--meeting-point", "Calle Mayor 7, portal azul"], cli_env
    )
    assert posted.returncode == 0, posted.stderr
    [listed] = json.loads(run(["items", "--json"], cli_env).stdout)
    key = str(listed["id"])
    assert "Calle Mayor" not in json.dumps(listed)
    assert listed["urgent"] is False

    rsvp = run(["item", "rsvp", key, "--member", "rosa"], cli_env)
    assert rsvp.returncode == 0, rsvp.stderr
    assert rsvp.stdout.strip() == f"@rosa is coming to call {key}: Vienen 1 de 2: faltan 1"
    unknown = run(["item", "rsvp", key, "--member", "zed"], cli_env)
    assert (
        unknown.returncode == 1
        and unknown.stderr == "ayni: error: there is no member named 'zed'\n"
    )

    attendees = run(["item", "attendees", listed["uri"], "--json"], cli_env)
    assert attendees.returncode == 0, attendees.stderr
    found = json.loads(attendees.stdout)
    assert (found["coming"], found["maybe"], found["needed"], found["missing"]) == (1, 0, 2, 1)
    assert [(r["who"], r["channel"]) for r in found["attendees"]] == [("rosa", "cli")]

    # The ladder, by hand: a dry run changes nothing, then step 1; a followers-less, no-relay
    # call stops at step 2
    dry = run(["item", "escalate", key, "--dry-run"], cli_env)
    assert dry.returncode == 0 and dry.stdout.startswith("step 1 (dry run): would notify 1 member")
    steps = [run(["item", "escalate", key], cli_env).stdout for _ in range(3)]
    assert steps[0].startswith("step 1: notified 1 member of @inquilinas")
    assert steps[1].startswith("step 2: published a Note") and "last step" in steps[1]
    assert steps[2].startswith("nothing to do: every step of the ladder was taken")

    # The admin hands Rosa her link; the audit shows it, and revoking ends it
    revealed = run(["item", "reveal", key, "--to", "rosa"], cli_env)
    assert f"http://127.0.0.1:8999/calls/{key}/where/" in revealed.stdout, revealed.stderr
    audit = json.loads(run(["escrow", "audit", key, "--json"], cli_env).stdout)
    assert [(link["who"], link["revoked"]) for link in audit["links"]] == [("rosa", None)]
    revoked = run(["escrow", "revoke", key, "--actor", "rosa"], cli_env)
    assert revoked.stdout.startswith("1 link(s) of rosa"), revoked.stderr
    audited = run(["escrow", "audit", key], cli_env).stdout
    assert audited.startswith("rosa\tlink issued") and "revoked" in audited
    assert "Calle Mayor" not in audited + attendees.stdout + "".join(steps)
