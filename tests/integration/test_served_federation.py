"""Two real `ayni serve` processes federate over signed HTTP, as in production.

Each instance is set up with the CLI (its own config file and database) and served by
`ayni serve` (uvloop, with the delivery workers in the server process). B's group follows A's
group by handle; the follow must come back accepted; an offer A's group then posts must reach
B's board exactly once, attributed to A's group. Nothing is faked: WebFinger, actor fetches,
HTTP signatures and both delivery queues all run for real over loopback.
"""

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import httpx

from tests.conftest import DatabaseUrls
from tests.integration.test_cli import AYNI, free_port, run

T = TypeVar("T")
TIMEOUT = 30.0  # seconds, for each thing we wait for


@dataclass
class Instance:
    name: str
    group: str
    port: int
    env: dict[str, str]
    group_uri: str = ""
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def handle(self) -> str:
        return f"@{self.group}@127.0.0.1:{self.port}"

    def ayni(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = run(list(args), self.env, stdin)
        assert result.returncode == 0, (
            f"{self.name}: ayni {' '.join(args)}\n{result.stdout}{result.stderr}"
        )
        return result


def set_up(root: Path, name: str, group: str, port: int, database_url: str) -> Instance:
    """`ayni init` and `ayni group create`, with this instance's own config file."""
    directory = root / name
    directory.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
    env["AYNI_CONFIG"] = str(directory / "ayni.toml")
    env["AYNI_ALLOW_PRIVATE_ADDRESSES"] = "127.0.0.1"  # the other instance is on loopback
    instance = Instance(name, group, port, env)
    instance.ayni(
        "init",
        "--base-url",
        instance.base_url,
        "--database-url",
        database_url,
        "--admin",
        "root",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    created = instance.ayni("group", "create", group, "--title", f"{group.title()} Group").stdout
    # "Created group @name@host (http://host/actors/name)"
    instance.group_uri = created.strip().rpartition("(")[2].rstrip(")")
    assert instance.group_uri.startswith(instance.base_url), created
    return instance


@contextmanager
def served(instance: Instance, log_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """`ayni serve` for as long as the block runs; its output goes to a file read on failure."""
    instance.log = log_dir / f"{instance.name}.log"
    with instance.log.open("w") as out:
        server = start(instance, out)
        try:
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def start(instance: Instance, out: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*AYNI, "serve", "--port", str(instance.port)],
        env=instance.env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(what: str, check: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """Polls `check` until it returns something other than None, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def answers_webfinger(instance: Instance) -> bool | None:
    try:
        response = httpx.get(
            f"{instance.base_url}/.well-known/webfinger",
            params={"resource": f"acct:{instance.group}@127.0.0.1:{instance.port}"},
            timeout=2,
        )
    except httpx.TransportError:
        return None
    return True if response.status_code == 200 else None


def outbound_state(follower: Instance, followed: Instance) -> str | None:
    """`ayni federation list` prints `follows<TAB>@name@host<TAB>state` per outbound follow."""
    lines = follower.ayni("federation", "list", follower.group).stdout.splitlines()
    states = [
        line.split("\t")[2]
        for line in lines
        if line.split("\t")[:2] == ["follows", followed.handle]
    ]
    assert len(states) <= 1, lines
    return states[0] if states and states[0] == "accepted" else None


def board_rows_titled(instance: Instance, title: str) -> list[dict[str, object]] | None:
    rows = json.loads(instance.ayni("items", "--json").stdout)
    matching = [row for row in rows if row["title"] == title]
    return matching or None


def settled_queue(instance: Instance) -> list[str] | None:
    """`ayni queue status` once no fan-out job or delivery is still pending."""
    lines = instance.ayni("queue", "status").stdout.splitlines()
    return None if any("pending" in line for line in lines) else lines


def server_output(*instances: Instance) -> str:
    return "\n".join(
        f"--- {i.name} server output ---\n{i.log.read_text() if i.log else ''}" for i in instances
    )


async def test_a_followed_groups_offer_reaches_the_follower_over_real_http(
    clean_environ: Path, database_urls: DatabaseUrls
) -> None:
    port_a = free_port()
    port_b = free_port()
    while port_b == port_a:
        port_b = free_port()
    a = set_up(clean_environ, "a", "tenants", port_a, await database_urls.new())
    b = set_up(clean_environ, "b", "neighbours", port_b, await database_urls.new())

    try:
        with ExitStack() as servers:
            servers.enter_context(served(a, clean_environ))
            servers.enter_context(served(b, clean_environ))
            wait_for("A to answer WebFinger", lambda: answers_webfinger(a))
            wait_for("B to answer WebFinger", lambda: answers_webfinger(b))

            followed = b.ayni("federation", "follow", b.group, a.handle).stdout
            assert f"asked to follow {a.group_uri}" in followed, followed
            wait_for("A to accept B's follow", lambda: outbound_state(b, a))

            posted = a.ayni("offer", a.group, "--title", "Spare bunk beds", "--as-group").stdout
            # "Posted offer N (public): URI"
            offer_uri = posted.strip().rpartition(" ")[2]
            wait_for("the offer to reach B", lambda: board_rows_titled(b, "Spare bunk beds"))
            # A's queue settled: one delivery each for the Accept, the Create and the group's
            # FEP-1b12 Announce of it (for Lemmy and Mbin), all sent (a duplicate would be a
            # fourth row); only then is B's board counted.
            a_queue = wait_for("A's delivery queue to settle", lambda: settled_queue(a))
            arrived = board_rows_titled(b, "Spare bunk beds") or []
        assert a_queue == [
            "fan-out jobs: done 3",
            "deliveries: sent 3",
            "mail: none",
            "push: none",
        ], a_queue
        assert len(arrived) == 1, arrived
        assert arrived[0]["origin"] == "remote"
        assert arrived[0]["uri"] == offer_uri
        assert arrived[0]["group"] == a.group_uri
        assert arrived[0]["kind"] == "offer"
    except AssertionError as failure:
        # Both servers have been stopped by now: their whole output is in the logs.
        raise AssertionError(f"{failure}\n{server_output(a, b)}") from failure
