"""A domain block stops traffic both ways and ends existing relationships."""

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from federation.errors import Refused
from inbox import worker
from models import policy
from models.follows import Follow
from models.queue import Activity, Delivery, DeliveryState
from tests.instances import Instance, Loopback, start_instance
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"


@pytest.fixture
async def followed(database_url: str) -> AsyncIterator[tuple[Instance, MastodonPeer]]:
    """An instance whose group `food` is followed by a Mastodon-shaped peer on 127.0.0.1:8201."""
    network = Loopback()
    peer = MastodonPeer("http://127.0.0.1:8201", network)
    network.add(peer.host, peer.app)
    async with start_instance(BASE, database_url, network) as instance:
        assert (
            await peer.send(f"{BASE}/inbox", peer.follow(f"{BASE}/actors/food"))
        ).status_code == 202
        assert await worker.run_once(instance.runtime) == 1
        yield instance, peer
    await peer.aclose()


async def test_blocking_a_domain_removes_follows_cancels_deliveries_and_refuses_traffic(
    followed: tuple[Instance, MastodonPeer],
) -> None:
    instance, peer = followed
    runtime = instance.runtime
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 1
        accept = await session.scalar(select(Activity).where(Activity.type == "Accept"))
        assert accept is not None
        session.add(
            Delivery(activity_id=accept.id, inbox_uri=f"{peer.actor_uri}/inbox", host=peer.host)
        )
        await session.commit()

    async with runtime.sessions() as session, session.begin():
        await policy.block_domain(session, "127.0.0.1", "test block")
    runtime.blocklist.forget()

    async with runtime.sessions() as session:
        follows = await session.scalar(select(func.count()).select_from(Follow))
        states = set(await session.scalars(select(Delivery.state)))
    response = await peer.send(f"{BASE}/inbox", peer.follow(f"{BASE}/actors/food"))
    with pytest.raises(Refused, match="blocked"):
        await runtime.fetch(peer.actor_uri)

    assert follows == 0
    assert states == {DeliveryState.REJECTED}
    assert response.status_code == 403


def run_cli(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ayni", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_block_lists_import_export_and_unblock_from_the_cli(
    clean_environ: Path, database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
    env["AYNI_CONFIG"] = str(clean_environ / "ayni.toml")
    assert (
        run_cli(
            [
                "init",
                "--base-url",
                "https://aid.example.org",
                "--database-url",
                database_url,
                "--admin",
                "root",
            ],
            env,
        ).returncode
        == 0
    )
    blocklist = (
        "#domain,#severity,#public_comment,#unknown\n"
        "spam.example,suspend,spam,x\n"
        "bad row!,suspend,,\n"
    )

    imported = run_cli(["federation", "import-blocks", "-"], env, blocklist)
    blocked = run_cli(["federation", "block", "Harass.Example", "--reason", "harassment"], env)
    exported = run_cli(["federation", "export-blocks"], env)
    unblocked = run_cli(["federation", "unblock", "spam.example"], env)
    unblock_again = run_cli(["federation", "unblock", "spam.example"], env)
    listed = run_cli(["federation", "blocks"], env)
    no_group = run_cli(["federation", "follow", "nope", "@food@other.example"], env)
    no_relations = run_cli(["federation", "list", "nope"], env)

    assert imported.returncode == 0, imported.stderr
    assert "Blocked 1 domains; 1 rows skipped." in imported.stdout
    assert "line 3" in imported.stderr
    assert blocked.returncode == 0
    assert exported.stdout.splitlines()[1:] == [
        "harass.example,suspend,true,true,harassment,false",
        "spam.example,suspend,true,true,spam,false",
    ]
    assert unblocked.returncode == 0
    assert unblock_again.returncode == 1 and unblock_again.stderr.startswith("ayni: error: ")
    assert listed.stdout.splitlines() == ["harass.example\tharassment"]
    assert (
        no_group.returncode == 1
        and no_group.stderr == "ayni: error: there is no group named 'nope'\n"
    )
    assert no_relations.returncode == 1
