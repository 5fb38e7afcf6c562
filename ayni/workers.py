"""The queue workers, by name: what `ayni serve` runs inside the app and `ayni worker` runs on its
own, what the startup line lists and what `/healthz` expects to see at work."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from inbox import worker as inbox_worker
from models.runtime import Runtime
from models.settings import Settings
from outbox import alerts, expiry, push
from outbox import worker as outbox_worker

Worker = Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]


def queue_workers(settings: Settings) -> dict[str, Worker]:
    mail: dict[str, Worker] = {}
    if settings.mail_enabled:  # aiosmtplib is loaded only where mail is configured
        from outbox import mail as sending

        mail["mail"] = sending.run
    return {
        "inbox": inbox_worker.run,
        "outbox": outbox_worker.run,
        "expiry": expiry.run,
        **mail,
        "alerts": alerts.run,
        "push": push.run,
    }
