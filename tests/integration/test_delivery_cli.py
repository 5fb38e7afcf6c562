"""`ayni queue status` and `ayni queue retry HOST`, as an admin runs them."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from models.queue import Delivery
from tests.integration.delivery_setup import BASE_URL, start_sender


def ayni(args: list[str], database_url: str, tmp: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
    env.update(
        AYNI_BASE_URL=BASE_URL, AYNI_DATABASE_URL=database_url, AYNI_CONFIG=str(tmp / "none.toml")
    )
    done = subprocess.run(
        [sys.executable, "-m", "ayni", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_queue_status_shows_counts_and_oldest_due_per_host_and_retry_makes_them_due(
    database_url: str, tmp_path: Path
) -> None:
    async with start_sender(database_url) as sender:
        await sender.add_follower("127.0.0.2:9000", "ann")
        await sender.add_follower("127.0.0.3:9000", "bob")
        sender.receiver.fault("127.0.0.2:9000", down=True)
        await sender.publish_note()
        await sender.drain()
        status = ayni(["queue", "status"], database_url, tmp_path)
        assert "deliveries: pending 1, sent 1" in status
        assert "127.0.0.2:9000" in status and "127.0.0.3:9000" not in status
        # Why it waits: its attempts and the error of the last one.
        waiting = next(line for line in status.splitlines() if "127.0.0.2:9000" in line)
        assert "1 pending  1 attempts  last error: " in waiting
        async with sender.runtime.sessions() as session:
            backed_off = await session.scalar(
                select(Delivery.next_attempt_at).where(Delivery.host == "127.0.0.2:9000")
            )
        assert backed_off is not None and backed_off > datetime.now(UTC) + timedelta(seconds=30)
        assert "1 deliveries to 127.0.0.2:9000 are due now." in ayni(
            ["queue", "retry", "127.0.0.2:9000"], database_url, tmp_path
        )
        async with sender.runtime.sessions() as session:
            due = await session.scalar(
                select(Delivery.next_attempt_at).where(Delivery.host == "127.0.0.2:9000")
            )
        assert due is not None and due <= datetime.now(UTC)
