"""What an operator reads in the log when a delivery fails."""

import logging

import pytest

from tests.integration.delivery_setup import start_sender


async def test_a_failed_delivery_is_a_warning_naming_host_status_and_reason(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_sender(database_url, deadline=0.5) as sender:
        await sender.add_follower("127.0.0.2:9000", "ann")
        sender.receiver.fault("127.0.0.2:9000", fail_first=1, fail_status=500)
        await sender.publish_note()
        with caplog.at_level(logging.WARNING, logger="ayni.outbox"):
            await sender.drain()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "host=127.0.0.2:9000 status=500 reason=" in warnings[0]
    assert "reason=- " not in warnings[0] and warnings[0].endswith("attempt=1 next=pending")
