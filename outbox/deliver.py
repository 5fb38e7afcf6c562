"""One delivery: POST an activity's body to one inbox, signed at send time, -> Outcome.

The body is serialised and digested once per activity (`Payload`); each inbox costs one
signature. Nothing here raises for what the remote server does: every answer, timeout or
refusal comes back as an Outcome for the retry policy.
"""

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Generator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.client import Client
from federation.errors import FetchError, Refused
from federation.keys import SigningKey
from federation.signatures import Scheme, http_date, sign_rfc9421

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
    (a 400 or 401 to the first knock), remembered per origin in `schemes` as SigningAuth does."""

    requires_request_body = True

    def __init__(
        self,
        key: SigningKey,
        payload: Payload,
        schemes: MutableMapping[str, Scheme],
        now: Callable[[], datetime],
    ) -> None:
        self.key, self.payload, self.schemes, self.now = key, payload, schemes, now

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        scheme: Scheme = self.schemes.get(origin, "cavage")
        self._sign(request, scheme)
        response = yield request
        if response.status_code in (400, 401):
            scheme = "rfc9421" if scheme == "cavage" else "cavage"
            self._sign(request, scheme)
            response = yield request
        if response.status_code < 400 and self.schemes.get(origin, "cavage") != scheme:
            self.schemes[origin] = scheme

    def _sign(self, request: httpx.Request, scheme: Scheme) -> None:
        for name in ("signature", "signature-input", "digest", "content-digest"):
            request.headers.pop(name, None)
        if scheme == "rfc9421":
            request.headers.update(
                sign_rfc9421("POST", str(request.url), self.key, self.payload.body, now=self.now())
            )
            return
        host, date = request.headers["host"], http_date(self.now())
        target = request.url.raw_path.decode()
        base = (
            f"(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {self.payload.digest}"
        ).encode()
        private_key = self.key.private_key
        if isinstance(private_key, rsa.RSAPrivateKey):
            algorithm, raw = "rsa-sha256", private_key.sign(base, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(private_key, ed25519.Ed25519PrivateKey):
            algorithm, raw = "hs2019", private_key.sign(base)
        else:  # pragma: no cover - keys.py makes only these two
            raise TypeError(f"cannot sign with {type(private_key).__name__}")
        request.headers["Date"] = date
        request.headers["Digest"] = self.payload.digest
        request.headers["Signature"] = (
            f'keyId="{self.key.key_id}",algorithm="{algorithm}",'
            f'headers="(request-target) host date digest",'
            f'signature="{base64.b64encode(raw).decode()}"'
        )


class Shards:
    """Several small connection pools, hosts spread over them by hash.

    One httpx pool serving many hosts at high concurrency spends its time scanning its own
    connections (every request assignment walks all of them: encode/httpx#3215). Small pools
    keep that scan short, and a host always lands on the same pool, so its connections stay
    warm. Each shard is a full `Client`: the same SSRF guard, caps and deadlines.
    """

    def __init__(self, make: Callable[[int], Client], count: int) -> None:
        self.clients = [make(i) for i in range(count)]

    def __call__(self, host: str) -> Client:
        return self.clients[zlib.crc32(host.encode()) % len(self.clients)]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def deliver(
    client: Client,
    inbox_uri: str,
    payload: Payload,
    key: SigningKey,
    schemes: MutableMapping[str, Scheme],
    now: Callable[[], datetime] = _utcnow,
) -> Outcome:
    try:
        receipt = await client.post(
            inbox_uri, payload.body, CONTENT_TYPE, auth=DeliveryAuth(key, payload, schemes, now)
        )
    except Refused as e:
        return Outcome(None, error=f"refused: {e}", refused=True)
    except FetchError as e:
        return Outcome(e.status, error=f"{type(e).__name__}: {e}")
    error = None if 200 <= receipt.status < 300 else f"HTTP {receipt.status}"
    return Outcome(receipt.status, receipt.retry_after, error)
