"""One delivery: POST an activity's body to one inbox, signed at send time, -> Outcome.

The body is serialised and digested once per activity (`Payload`); each inbox costs one
signature. Nothing here raises for what the remote server does: every answer, timeout or
refusal comes back as an Outcome for the retry policy.
"""

import base64
import hashlib
import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.cavage import http_date
from federation.client import Client
from federation.errors import FetchError, Refused
from federation.keys import SigningKey
from federation.rfc9421 import sign_rfc9421
from federation.sender import Answer, Sender, Target
from federation.signatures import Scheme, SchemeMemory
from models import transactions

CONTENT_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@dataclass(frozen=True)
class Payload:
    body: bytes
    digest: str  # the draft-cavage Digest header value

    @classmethod
    def of(cls, document: dict[str, Any]) -> "Payload":
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(body, "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode())


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (timeout, connection error, refused by our guard)
    retry_after: str | None = None
    error: str | None = None
    refused: bool = False  # we will never send there (private address, bad URL): permanent


class DeliveryAuth(httpx.Auth):
    """draft-cavage with the activity's precomputed digest; RFC 9421 when an origin asks for it
    (a 400 or 401 to the first knock), in the instance's one SchemeMemory, which SigningAuth
    reads and writes too. The httpx road, for hosts mounted in-process; `deliver` knocks the
    same way on a Sender."""

    requires_request_body = True

    def __init__(
        self,
        key: SigningKey,
        payload: Payload,
        schemes: SchemeMemory,
        now: Callable[[], datetime],
    ) -> None:
        self.key, self.payload, self.schemes, self.now = key, payload, schemes, now

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url)
        scheme = self.schemes.first(url)
        self._sign(request, scheme)
        response = yield request
        if response.status_code in (400, 401):
            scheme = _other(scheme)
            self._sign(request, scheme)
            response = yield request
        if response.status_code < 400:
            self.schemes.accepted(url, scheme)

    def _sign(self, request: httpx.Request, scheme: Scheme) -> None:
        for name in ("signature", "signature-input", "digest", "content-digest"):
            request.headers.pop(name, None)
        request.headers.update(
            sign(
                self.key, self.payload, scheme, str(request.url), request.headers["host"],
                request.url.raw_path.decode(), self.now(),
            )
        )


def sign(
    key: SigningKey, payload: Payload, scheme: Scheme, url: str, host: str, target: str, now: datetime
) -> list[tuple[str, str]]:
    """The signature headers of a POST of `payload` to `url` (Host `host`, path `target`)."""
    if scheme == "rfc9421":
        return list(sign_rfc9421("POST", url, key, payload.body, now=now).items())
    date = _http_date(now)
    base = f"(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {payload.digest}".encode()
    private_key = key.private_key
    if isinstance(private_key, rsa.RSAPrivateKey):
        algorithm, raw = "rsa-sha256", private_key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        algorithm, raw = "hs2019", private_key.sign(base)
    else:  # pragma: no cover - keys.py makes only these two
        raise TypeError(f"cannot sign with {type(private_key).__name__}")
    signature = (
        f'keyId="{key.key_id}",algorithm="{algorithm}",headers="(request-target) host date digest",'
        f'signature="{base64.b64encode(raw).decode()}"'
    )
    return [("Date", date), ("Digest", payload.digest), ("Signature", signature)]


def _http_date(moment: datetime) -> str:
    return _http_date_of_second(int(moment.timestamp()))


@lru_cache(maxsize=4)
def _http_date_of_second(second: int) -> str:
    # A worker signs thousands of requests a second; the Date changes once a second.
    return http_date(datetime.fromtimestamp(second, UTC))


def _other(scheme: Scheme) -> Scheme:
    return "rfc9421" if scheme == "cavage" else "cavage"


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def deliver(
    via: Client | Sender,
    inbox_uri: str,
    payload: Payload,
    key: SigningKey,
    schemes: SchemeMemory,
    now: Callable[[], datetime] = _utcnow,
) -> Outcome:
    """POST through the Sender, or through a Client (hosts mounted in-process, in tests).
    Never inside a transaction (NetworkInTransaction): a slow inbox would hold it for 30 s."""
    transactions.outside_transaction("a delivery")
    try:
        if isinstance(via, Sender):
            answer = await _knock(via, inbox_uri, payload, key, schemes, now)
            status, retry_after = answer.status, answer.retry_after
        else:
            receipt = await via.post(
                inbox_uri, payload.body, CONTENT_TYPE, auth=DeliveryAuth(key, payload, schemes, now)
            )
            status, retry_after = receipt.status, receipt.retry_after
    except Refused as e:
        return Outcome(None, error=f"refused: {e}", refused=True)
    except FetchError as e:
        return Outcome(e.status, error=f"{type(e).__name__}: {e}")
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Outcome(status, retry_after, error)


async def _knock(
    sender: Sender,
    inbox_uri: str,
    payload: Payload,
    key: SigningKey,
    schemes: SchemeMemory,
    now: Callable[[], datetime],
) -> Answer:
    """Sign with the origin's scheme (cavage until it asked otherwise); on 400/401 knock once
    more with the other, and remember whichever was answered with a success."""
    target = Target.of(inbox_uri)
    scheme = schemes.first(target.url)
    answer = await sender.post(target, payload.body, _signed(target, payload, key, scheme, now()))
    if answer.status in (400, 401):
        scheme = _other(scheme)
        answer = await sender.post(target, payload.body, _signed(target, payload, key, scheme, now()))
    if answer.status < 400:
        schemes.accepted(target.url, scheme)
    return answer


def _signed(
    target: Target, payload: Payload, key: SigningKey, scheme: Scheme, now: datetime
) -> list[tuple[str, str]]:
    headers = [("Content-Type", CONTENT_TYPE)]
    headers += sign(key, payload, scheme, target.url, target.authority, target.path, now)
    return headers
