"""Signatures: HTTP request signing and verifying, whichever the scheme (draft-cavage-12, RFC 9421).

Pure: (method, url, headers, body) in, values out; no web framework, no database.

What the client and the inbox call:

    SigningAuth(key, *, schemes=None, now=None)   httpx.Auth: signs at send time, "double-knocks"
    await verify(method, url, headers, body, keys, *, now=None) -> str       the key id that signed

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

from collections.abc import Callable, Generator, Mapping, MutableMapping
from datetime import datetime
from typing import Literal

import httpx

from federation.cavage import sign_cavage, verify_cavage
from federation.errors import SignatureError
from federation.keys import SigningKey
from federation.rfc9421 import sign_rfc9421, verify_rfc9421
from federation.signing_primitives import DEFAULT_PORTS, KeyLookup, utcnow

Scheme = Literal["cavage", "rfc9421"]


class SigningAuth(httpx.Auth):
    """Signs each request at send time as one actor, "double-knocking" on refusal.

    Signs with draft-cavage first (what Mastodon and GoToSocial expect); on a 400 or 401
    retries once with the other scheme. `schemes` remembers, per origin, the scheme that
    was last answered with a success; share one dict between Auth instances to share it.
    """

    requires_request_body = True

    def __init__(
        self,
        key: SigningKey,
        *,
        schemes: MutableMapping[str, Scheme] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.key = key
        self.schemes: MutableMapping[str, Scheme] = {} if schemes is None else schemes
        self._now = now or utcnow

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = f"{request.url.scheme}://{request.url.host}:{_port(request.url)}"
        scheme: Scheme = self.schemes.get(origin, "cavage")
        self._sign(request, scheme)
        response = yield request
        if response.status_code in (400, 401):
            scheme = "rfc9421" if scheme == "cavage" else "cavage"
            self._sign(request, scheme)
            response = yield request
        if response.status_code < 400:
            self.schemes[origin] = scheme

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


def _port(url: httpx.URL) -> int:
    return url.port or DEFAULT_PORTS.get(url.scheme, 0)
