"""Signatures: HTTP request signing and verifying, whichever the scheme (draft-cavage-12, RFC 9421).

Pure: (method, url, headers, body) in, values out; no web framework, no database.

What the client, the delivery worker and the inbox call:

    sign(scheme, method, url, key, body=None, *, now=None, digest=None) -> dict[str, str]
    DoubleKnock(url, schemes)                     the scheme to sign each knock with, for every road
    SigningAuth(key, *, schemes=None, now=None)   httpx.Auth for fetches: signs, double-knocks
    await verify(method, url, headers, body, keys, *, now=None) -> str       the key id that signed
    SchemeMemory()                                which scheme each origin wants, keyed by origin()

`verify` raises `SignatureError` (with a human reason) for anything it cannot vouch for; it
never returns a boolean. `keys` is a `KeyLookup` (in production a
`federation.keyresolver.KeyResolver`); once `verify` has returned a key id, the inbox asks
the same resolver `owner_of(key_id)` for the actor URI to compare with the activity's `actor`.
(`owner_of` is synchronous and reads the entry `verify` has just used, so nothing can change
it between the two calls.)

The schemes are in `federation.cavage` and `federation.rfc9421` (signing a single request:
`sign_cavage`, `sign_rfc9421`); what both build on in `federation.signing_primitives`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Literal

import httpx

from federation.cavage import sign_cavage, verify_cavage
from federation.errors import SignatureError
from federation.keys import SigningKey
from federation.rfc9421 import sign_rfc9421, verify_rfc9421
from federation.signing_primitives import KeyLookup, utcnow

Scheme = Literal["cavage", "rfc9421"]


@lru_cache(maxsize=4096)
def origin(url: str) -> str:
    """`scheme://host[:port]` as httpx normalises it: lower case, an IDN host in its ASCII
    form, the port only when it is not the scheme's default. What the scheme memory is keyed
    by, whichever road signs (a fetch, a delivery)."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"


class SchemeMemory:
    """Which signature scheme each origin wants, one per instance, read and written by every
    road that signs (DoubleKnock, for fetches and deliveries alike), so that what a
    fetch learns the next delivery knocks with first, and the other way round.

    Only origins that want something other than draft-cavage are kept: most servers take it."""

    def __init__(self) -> None:
        self._wanted: dict[str, Scheme] = {}

    def first(self, url: str) -> Scheme:
        """The scheme to knock with first at `url`'s origin."""
        return self._wanted.get(origin(url), "cavage")

    def accepted(self, url: str, scheme: Scheme) -> None:
        """A request to `url` signed with `scheme` was answered with a success."""
        if scheme == "cavage":
            self._wanted.pop(origin(url), None)
        else:
            self._wanted[origin(url)] = scheme


def sign(
    scheme: Scheme,
    method: str,
    url: str,
    key: SigningKey,
    body: bytes | None = None,
    *,
    now: datetime | None = None,
    digest: bytes | None = None,
) -> dict[str, str]:
    """The headers that sign a request in `scheme` (see sign_cavage and sign_rfc9421)."""
    signer = sign_cavage if scheme == "cavage" else sign_rfc9421
    return signer(method, url, key, body, now=now, digest=digest)


class DoubleKnock:
    """Which scheme to sign a request with, knock after knock; the one policy of every road
    that signs (SigningAuth's fetches, outbox.deliver's deliveries):

        knock = DoubleKnock(url, schemes)
        while True:
            status = <send the request signed with knock.scheme>
            if not knock.again(status):
                break

    Draft-cavage first (what Mastodon and GoToSocial expect) unless the origin said otherwise;
    on a 400 or 401 once more with the other scheme; whichever was answered with a success is
    remembered for the origin."""

    def __init__(self, url: str, schemes: SchemeMemory) -> None:
        self.url, self.schemes = url, schemes
        self.scheme = schemes.first(url)
        self._knocked_twice = False

    def again(self, status: int) -> bool:
        """Told the status of the last knock: whether to knock again, with `self.scheme`."""
        if status in (400, 401) and not self._knocked_twice:
            self.scheme = "rfc9421" if self.scheme == "cavage" else "cavage"
            self._knocked_twice = True
            return True
        if status < 400:
            self.schemes.accepted(self.url, self.scheme)
        return False


class SigningAuth(httpx.Auth):
    """Signs each request at send time as one actor, double-knocking (DoubleKnock). Share one
    SchemeMemory between Auth instances and deliveries to share what they learn."""

    requires_request_body = True

    def __init__(
        self,
        key: SigningKey,
        *,
        schemes: SchemeMemory | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.key = key
        self.schemes = SchemeMemory() if schemes is None else schemes
        self._now = now or utcnow

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        knock = DoubleKnock(str(request.url), self.schemes)
        while True:
            for name in ("signature", "signature-input", "digest", "content-digest"):
                request.headers.pop(name, None)
            request.headers.update(
                sign(
                    knock.scheme,
                    request.method,
                    str(request.url),
                    self.key,
                    request.content,
                    now=self._now(),
                )
            )
            response = yield request
            if not knock.again(response.status_code):
                return


async def verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: KeyLookup,
    *,
    now: datetime | None = None,
) -> str:
    """The key id that signed this request, or SignatureError saying why not.

    `url` is the full URL as received (scheme, Host, path and query); `headers` any mapping,
    names in any case; `body` the exact bytes received.
    """
    fields: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    moment = now or utcnow()
    try:
        if "signature-input" in fields:
            return await verify_rfc9421(method, url, fields, body, keys, moment)
        if "signature" in fields:
            return await verify_cavage(method, url, fields, body, keys, moment)
    except SignatureError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError) as error:
        # Parsing attacker-supplied text: whatever slipped through is still a bad signature.
        raise SignatureError(f"malformed signature: {error}") from error
    raise SignatureError("the request is not signed (no Signature header)")
