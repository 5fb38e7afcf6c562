"""Which asyncio task holds a database transaction open, and the guard that keeps the network
out of one: a fetch or a delivery waits up to 30 s on a remote server, and a transaction held
that long keeps a pooled connection (and on SQLite a lock) from everyone else.

    outside_transaction()      raises NetworkInTransaction if this task holds one open

Every session `models.db.sessionmaker` makes is a `TrackedSession`: SQLAlchemy tells it when a
transaction begins (explicitly or by autobegin, on the first query) and ends, and it notes the
task that began it. Sessions made elsewhere, and tasks started from inside a transaction, are
not seen. The runtime's fetch path and the outbox's deliveries call the guard, so the inbox and
the outbox share one rule, checked rather than hoped for.
"""

import asyncio
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_TASK = "ayni.transaction_task"


class NetworkInTransaction(RuntimeError):
    """Network I/O was attempted while this task held a database transaction open (a bug)."""


class TrackedSession(Session):
    """A Session whose open transaction is known to `outside_transaction`."""


# Per task, the sessions whose transaction it began and that have not ended it yet. Weak both
# ways: a finished task or a discarded session leaves nothing behind.
_holding: "weakref.WeakKeyDictionary[asyncio.Task[Any], weakref.WeakSet[Session]]" = (
    weakref.WeakKeyDictionary()
)


def outside_transaction(doing: str = "network I/O") -> None:
    """Raise NetworkInTransaction if the current task holds a database transaction open."""
    if not _holding:  # the usual case, and the cheapest test: nobody holds one
        return
    task = _current_task()
    if task is not None and _holding.get(task):
        raise NetworkInTransaction(f"{doing} inside a database transaction")


def _current_task() -> "asyncio.Task[Any] | None":
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop running: synchronous use, nothing to guard
        return None


@event.listens_for(TrackedSession, "after_transaction_create")
def _began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint inside one already counted
        return
    task = _current_task()
    if task is not None:
        session.info[_TASK] = task
        _holding.setdefault(task, weakref.WeakSet()).add(session)


@event.listens_for(TrackedSession, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    task = session.info.pop(_TASK, None)  # the task that began it, even if another ends it
    held = _holding.get(task) if task is not None else None
    if held is not None:
        held.discard(session)
        if not held:
            del _holding[task]
