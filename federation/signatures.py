"""Signatures: HTTP request signing and verifying, whichever the scheme (draft-cavage-12, RFC 9421).

Pure: (method, url, headers, body) in, values out; no web framework, no database.

What the client and the inbox call:

    SigningAuth(key, *, schemes=None, now=None)   httpx.Auth: signs at send time, "double-knocks"
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
    road that signs (SigningAuth for fetches, outbox.deliver for deliveries), so that what a
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


class SigningAuth(httpx.Auth):
    """Signs each request at send time as one actor, "double-knocking" on refusal.

    Signs with what `schemes` says the origin wants (draft-cavage, what Mastodon and GoToSocial
    expect, unless it said otherwise); on a 400 or 401 retries once with the other scheme, and
    tells `schemes` whichever was answered with a success. Share one SchemeMemory between Auth
    instances (and deliveries) to share what they learn.
    """

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
        url = str(request.url)
        scheme = self.schemes.first(url)
        self._sign(request, scheme)
        response = yield request
        if response.status_code in (400, 401):
            scheme = "rfc9421" if scheme == "cavage" else "cavage"
            self._sign(request, scheme)
            response = yield request
        if response.status_code < 400:
            self.schemes.accepted(url, scheme)

    def _sign(self, request: httpx.Request, scheme: Scheme) -> None:
        for name in ("signature", "signature-input", "digest", "content-digest"):
            request.headers.pop(name, None)
        sign = sign_cavage if scheme == "cavage" else sign_rfc9421
        added = sign(request.method, str(request.url), self.key, request.content, now=self._now())
        request.headers.update(added)


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
