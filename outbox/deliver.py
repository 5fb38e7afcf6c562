"""One delivery: POST an activity's body to one inbox, signed at send time, -> Outcome.

The body is serialised and digested once per activity (`Payload`); each inbox costs one
signature, two when the first scheme is refused (federation.signatures.DoubleKnock). Nothing
here raises for what the remote server does: every answer, timeout or refusal comes back as an
Outcome for the retry policy.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from federation.errors import FetchError, Refused
from federation.keys import SigningKey
from federation.sender import Sender, Target
from federation.signatures import DoubleKnock, Scheme, SchemeMemory, sign
from models import transactions

CONTENT_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@dataclass(frozen=True)
class Payload:
    body: bytes
    sha256: bytes  # the body's digest: both schemes sign it, for every inbox

    @classmethod
    def of(cls, document: dict[str, Any]) -> "Payload":
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(body, hashlib.sha256(body).digest())


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (timeout, connection error, refused by our guard)
    retry_after: str | None = None
    error: str | None = None
    refused: bool = False  # we will never send there (private address, bad URL): permanent


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def deliver(
    sender: Sender,
    inbox_uri: str,
    payload: Payload,
    key: SigningKey,
    schemes: SchemeMemory,
    now: Callable[[], datetime] = _utcnow,
) -> Outcome:
    """POST through the Sender, double-knocking. Never inside a transaction
    (NetworkInTransaction): a slow inbox would hold it for 30 s."""
    transactions.outside_transaction("a delivery")
    try:
        target = Target.of(inbox_uri)
        knock = DoubleKnock(target.url, schemes)
        while True:
            headers = signed(target, payload, key, knock.scheme, now())
            answer = await sender.post(target, payload.body, headers)
            if not knock.again(answer.status):
                break
    except Refused as e:
        return Outcome(None, error=f"refused: {e}", refused=True)
    except FetchError as e:
        return Outcome(e.status, error=f"{type(e).__name__}: {e}")
    error = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    return Outcome(answer.status, answer.retry_after, error)


def signed(
    target: Target, payload: Payload, key: SigningKey, scheme: Scheme, now: datetime
) -> list[tuple[str, str]]:
    """The headers of a delivery's POST but those the Sender writes itself (Host among them)."""
    added = sign(scheme, "POST", target.url, key, payload.body, now=now, digest=payload.sha256)
    return [("Content-Type", CONTENT_TYPE), *((n, v) for n, v in added.items() if n != "Host")]
