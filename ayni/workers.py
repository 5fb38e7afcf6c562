"""The queue workers, by name: what `ayni serve` runs inside the app and `ayni worker` runs on its
own, what the startup line lists and what `/healthz` expects to see at work."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from inbox import worker as inbox_worker
from models.runtime import Runtime
from models.settings import Settings
from outbox import alerts, expiry, mail, push
from outbox import worker as outbox_worker

Worker = Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]


def queue_workers(settings: Settings) -> dict[str, Worker]:
    return {
        "inbox": inbox_worker.run,
        "outbox": outbox_worker.run,
        "expiry": expiry.run,
        **({"mail": mail.run} if settings.mail_enabled else {}),
        "alerts": alerts.run,
        "push": push.run,
    }
