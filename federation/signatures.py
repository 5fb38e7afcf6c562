"""Signatures: HTTP request signing and verifying, draft-cavage-12 and RFC 9421.

Pure: (method, url, headers, body) in, values out; no web framework, no database.

What the client and the inbox call:

    sign_cavage(method, url, key, body=None, *, now=None) -> dict[str, str]   headers to add
    sign_rfc9421(method, url, key, body=None, *, now=None) -> dict[str, str]  headers to add
    SigningAuth(key, *, schemes=None, now=None)   httpx.Auth: signs at send time, "double-knocks"
    await verify(method, url, headers, body, keys, *, now=None) -> str       the key id that signed

`verify` raises `SignatureError` (with a human reason) for anything it cannot vouch for; it
never returns a boolean. `keys` is a `KeyLookup` (in production a
`federation.keyresolver.KeyResolver`); once `verify` has returned a key id, the inbox asks
the same resolver `owner_of(key_id)` for the actor URI to compare with the activity's `actor`.
(`owner_of` is synchronous and reads the entry `verify` has just used, so nothing can change
it between the two calls.)

Several RFC 9421 signatures in one request: every label in `Signature-Input` must verify
(at most four); one bad signature fails the whole request. The key id of the first label
is returned.

Libraries: RFC 9421 is implemented here on top of `http-sf` (structured fields). The
`http-message-signatures` package was not used inside: its verifier resolves keys
synchronously (our lookups are async fetches), reads the wall clock with a fixed 5 s skew
(we need a 65/60 minute window and an injectable clock), and binds one algorithm per
verifier (we infer it per key). It is the independent implementation the tests check
against instead.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import re
from collections.abc import Callable, Generator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, Protocol
from urllib.parse import SplitResult, urlsplit

import http_sf
import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from http_sf.innerlist import ser_innerlist

from federation.errors import FederationError, SignatureError
from federation.keys import PrivateKey, PublicKey, SigningKey, VerificationKey

Scheme = Literal["cavage", "rfc9421"]

# Mastodon's window: a Date up to 65 minutes old (1 h skew + 5 min transit) or 1 h ahead.
MAX_AGE = timedelta(minutes=65)
MAX_AHEAD = timedelta(minutes=60)
MAX_LABELS = 4  # each label may cost a key fetch; more than this is abuse, not interop
MAX_HEADER = 8192

_PKCS1, _SHA256, _SHA512 = padding.PKCS1v15(), hashes.SHA256(), hashes.SHA512()
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)  # RFC 9421 3.3.1
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DIGESTS: dict[str, Callable[[bytes], Any]] = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_CAVAGE_PARAM = r'\s*([A-Za-z]+)\s*=\s*(?:"([^"\\]*)"|(\d{1,15}))\s*(?:,|\Z)'
# Checked whole first (linear time, even on hostile input), then read in a single pass.
_CAVAGE_HEADER = re.compile(f"(?:{_CAVAGE_PARAM})+")
_CAVAGE_PARAMS = re.compile(_CAVAGE_PARAM)
_COMPONENT = re.compile(r"@?[a-z0-9!#$%&'*+.^_`|~-]+")
_RFC9421_ALGS = frozenset({"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"})
_DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
)


class KeyLookup(Protocol):
    """What `verify` needs from key resolution (see federation.keyresolver.KeyResolver).

    `refresh=True` asks for a refetch because the cached key did not verify; the lookup
    may refuse (raise SignatureError) when it refetched that actor very recently.
    """

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey: ...


# Signing -------------------------------------------------------------------------------


def sign_cavage(
    method: str,
    url: str,
    key: SigningKey,
    body: bytes | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers (Host, Date, Digest on POST, Signature) that sign a request, draft-cavage-12."""
    parts = urlsplit(url)
    added = {"Host": _authority(parts), "Date": http_date(now or _utcnow())}
    covered = ["(request-target)", "host", "date"]
    lines = [
        f"(request-target): {method.lower()} {_request_target(parts)}",
        f"host: {added['Host']}",
        f"date: {added['Date']}",
    ]
    if method.upper() == "POST" or body:
        added["Digest"] = "SHA-256=" + _b64(hashlib.sha256(body or b"").digest())
        covered.append("digest")
        lines.append(f"digest: {added['Digest']}")
    algorithm = "rsa-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "hs2019"
    signature = _b64(_sign(key.private_key, "\n".join(lines).encode()))
    added["Signature"] = (
        f'keyId="{key.key_id}",algorithm="{algorithm}",'
        f'headers="{" ".join(covered)}",signature="{signature}"'
    )
    return added


def sign_rfc9421(
    method: str,
    url: str,
    key: SigningKey,
    body: bytes | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers (Content-Digest on POST, Signature-Input, Signature) for an RFC 9421 signature."""
    parts = urlsplit(url)
    added: dict[str, str] = {}
    values = {"@method": method.upper(), "@target-uri": url, "@authority": _authority(parts)}
    if method.upper() == "POST" or body:
        added["Content-Digest"] = f"sha-256=:{_b64(hashlib.sha256(body or b'').digest())}:"
        values["content-digest"] = added["Content-Digest"]
    alg = "rsa-v1_5-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "ed25519"
    created = int((now or _utcnow()).timestamp())
    params = ser_innerlist(
        ([(name, {}) for name in values], {"created": created, "keyid": key.key_id, "alg": alg})
    )
    base = "".join(f'"{name}": {value}\n' for name, value in values.items())
    signature = _sign(key.private_key, f'{base}"@signature-params": {params}'.encode())
    added["Signature-Input"] = f"sig1={params}"
    added["Signature"] = f"sig1=:{_b64(signature)}:"
    return added


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
        self._now = now or _utcnow

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


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


# Verifying ---------------------------------------------------------------------------


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
    moment = now or _utcnow()
    try:
        if "signature-input" in fields:
            return await _verify_rfc9421(method, url, fields, body, keys, moment)
        if "signature" in fields:
            return await _verify_cavage(method, url, fields, body, keys, moment)
    except SignatureError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError) as error:
        # Parsing attacker-supplied text: whatever slipped through is still a bad signature.
        raise SignatureError(f"malformed signature: {error}") from error
    raise SignatureError("the request is not signed (no Signature header)")


async def _verify_cavage(
    method: str, url: str, fields: dict[str, str], body: bytes, keys: KeyLookup, moment: datetime
) -> str:
    params = _parse_cavage(fields["signature"])
    key_id, encoded = params.get("keyId"), params.get("signature")
    if not key_id or not encoded:
        raise SignatureError("the Signature header lacks keyId or signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ("rsa-sha256", "hs2019"):
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    covered = params.get("headers", "date").lower().split()
    if "(request-target)" not in covered:
        raise SignatureError("the signature does not cover (request-target)")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("the signature covers neither date nor (created)")
    if method.upper() == "POST" and "digest" not in covered:
        raise SignatureError("a POST signature must cover digest")
    if "date" in covered:
        _check_time(_parse_http_date(fields.get("date")), moment, "Date")
    if algorithm == "rsa-sha256" and ("(created)" in covered or "(expires)" in covered):
        raise SignatureError("(created) and (expires) need algorithm hs2019, not rsa-sha256")
    if "(created)" in covered or "created" in params:
        _check_time(_timestamp(params.get("created"), "created"), moment, "created")
    expiring = "(expires)" in covered or "expires" in params
    if expiring and _timestamp(params.get("expires"), "expires") < moment:
        raise SignatureError("the signature has expired")
    if "digest" in covered:
        _check_digest(fields.get("digest"), body)
    signature = _b64decode(encoded)
    parts = urlsplit(url)
    targets = [_request_target(parts)]
    if parts.query:
        targets.append(parts.path or "/")  # some signers leave the query out
    bases = [_cavage_base(covered, method, target, fields, params) for target in targets]

    def matches(public_key: PublicKey) -> bool:
        is_rsa = isinstance(public_key, rsa.RSAPublicKey)
        if algorithm == "rsa-sha256" and not is_rsa:
            return False
        alg = "rsa-v1_5-sha256" if is_rsa else "ed25519"
        return any(_check(public_key, alg, signature, base) for base in bases)

    return await _verified_by(keys, key_id, matches)


def _cavage_base(
    covered: list[str], method: str, target: str, fields: dict[str, str], params: dict[str, str]
) -> bytes:
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            value = params[name[1:-1]]
        elif name in fields:
            value = fields[name].strip()
        else:
            raise SignatureError(f"the signature covers {name}, which the request lacks")
        lines.append(f"{name}: {value}")
    return "\n".join(lines).encode()


@dataclass(frozen=True)
class MessageSignature:
    """One parsed RFC 9421 signature (one label) and the signature base it signs."""

    label: str
    key_id: str
    alg: str | None
    components: tuple[str, ...]
    created: int | None
    expires: int | None
    signature: bytes
    base: bytes

    def matches(self, public_key: PublicKey) -> bool:
        if self.alg is not None:
            return _check(public_key, self.alg, self.signature, self.base)
        # No alg: the key decides. An RSA key may sign either RSA scheme (RFC 9421 3.3.1-2);
        # both are sound, so accepting either one lets nothing unsigned through.
        return any(
            _check(public_key, alg, self.signature, self.base) for alg in _inferred_algs(public_key)
        )


def parse_rfc9421(method: str, url: str, fields: Mapping[str, str]) -> list[MessageSignature]:
    """Parse every label of `Signature-Input`/`Signature` (names lowercased) and build its base."""
    inputs = _parse_dictionary(fields.get("signature-input"), "Signature-Input")
    signatures = _parse_dictionary(fields.get("signature"), "Signature")
    if not inputs:
        raise SignatureError("Signature-Input holds no signature")
    if len(inputs) > MAX_LABELS:
        raise SignatureError(f"more than {MAX_LABELS} signatures in one request")
    if inputs.keys() != signatures.keys():
        raise SignatureError("Signature-Input and Signature name different labels")
    parts = urlsplit(url)
    derived = {
        "@method": method.upper(),
        "@target-uri": url,
        "@authority": _authority(parts),
        "@scheme": parts.scheme.lower(),
        "@request-target": _request_target(parts),
        "@path": parts.path or "/",
        "@query": f"?{parts.query}",
    }
    return [
        _parse_label(label, inputs[label], signatures[label], derived, fields) for label in inputs
    ]


def _parse_label(
    label: str, member: Any, signature: Any, derived: dict[str, str], fields: Mapping[str, str]
) -> MessageSignature:
    items, params = member
    if not isinstance(items, list):
        raise SignatureError(f"Signature-Input {label} is not an inner list")
    value, sig_params = signature
    if not isinstance(value, bytes) or sig_params:
        raise SignatureError(f"Signature {label} is not a byte sequence")
    lines, names = [], []
    for name, item_params in items:
        if not isinstance(name, str) or not _COMPONENT.fullmatch(name) or item_params:
            raise SignatureError(f"unsupported covered component {name!r} in {label}")
        if name in names:
            raise SignatureError(f"component {name} is covered twice in {label}")
        if name.startswith("@"):
            if name not in _DERIVED:
                raise SignatureError(f"unsupported derived component {name}")
            component = derived[name]
        elif name in fields:
            component = fields[name].strip()
        else:
            raise SignatureError(f"the signature covers {name}, which the request lacks")
        if "\n" in component or "\r" in component:
            raise SignatureError(f"component {name} holds a newline")
        names.append(name)
        lines.append(f'"{name}": {component}\n')
    key_id, alg = params.get("keyid"), params.get("alg")
    created, expires = params.get("created"), params.get("expires")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError(f"signature {label} has no keyid")
    if alg is not None and alg not in _RFC9421_ALGS:
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    for number in (created, expires):
        if number is not None and type(number) is not int:
            raise SignatureError(f"created and expires must be integers in {label}")
    base = "".join(lines) + f'"@signature-params": {ser_innerlist(member)}'
    return MessageSignature(
        label, key_id, alg, tuple(names), created, expires, value, base.encode()
    )


async def _verify_rfc9421(
    method: str, url: str, fields: dict[str, str], body: bytes, keys: KeyLookup, moment: datetime
) -> str:
    parsed = parse_rfc9421(method, url, fields)
    digest_checked = False
    for signature in parsed:
        covered = signature.components
        if signature.created is None:
            raise SignatureError(f"signature {signature.label} has no created parameter")
        _check_time(_timestamp(signature.created, "created"), moment, "created")
        if signature.expires is not None and _timestamp(signature.expires, "expires") < moment:
            raise SignatureError(f"signature {signature.label} has expired")
        if "@method" not in covered:
            raise SignatureError(f"signature {signature.label} does not cover @method")
        if "@target-uri" not in covered and not {"@authority", "@path"} <= set(covered):
            raise SignatureError(f"signature {signature.label} covers no @target-uri")
        if method.upper() == "POST" and "content-digest" not in covered:
            raise SignatureError(f"a POST signature must cover content-digest ({signature.label})")
        if "content-digest" in covered and not digest_checked:
            _check_content_digest(fields["content-digest"], body)
            digest_checked = True
    key_ids = [await _verified_by(keys, s.key_id, s.matches) for s in parsed]
    return key_ids[0]


async def _verified_by(keys: KeyLookup, key_id: str, matches: Callable[[PublicKey], bool]) -> str:
    """Check against the known key; if it fails, against a refetched one (a rotated key)."""
    key = await _lookup(keys, key_id, refresh=False)
    if matches(key.public_key):
        return key.key_id
    if not key.fresh:
        key = await _lookup(keys, key_id, refresh=True)
        if matches(key.public_key):
            return key.key_id
    raise SignatureError(f"the signature does not match the key {key_id}")


async def _lookup(keys: KeyLookup, key_id: str, *, refresh: bool) -> VerificationKey:
    try:
        return await keys.lookup(key_id, refresh=refresh)
    except SignatureError:
        raise
    except FederationError as error:
        raise SignatureError(f"could not get the key {key_id}: {error}") from error


# Pieces --------------------------------------------------------------------------------


def _parse_cavage(value: str) -> dict[str, str]:
    if len(value) > MAX_HEADER:
        raise SignatureError("the Signature header is too long")
    if not _CAVAGE_HEADER.fullmatch(value):
        raise SignatureError('the Signature header is not a list of name="value"')
    found = _CAVAGE_PARAMS.findall(value)
    params = {name: quoted or number for name, quoted, number in found}
    if len(params) != len(found):
        raise SignatureError("the Signature header repeats a parameter")
    return params


def _parse_dictionary(value: str | None, what: str) -> dict[str, Any]:
    if value is None:
        raise SignatureError(f"the {what} header is missing")
    if len(value) > MAX_HEADER:
        raise SignatureError(f"the {what} header is too long")

    def refuse_duplicate(key: str, context: str) -> None:
        raise SignatureError(f"the {what} header repeats {key}")

    try:
        parsed = http_sf.parse(
            value.encode(), tltype="dictionary", on_duplicate_key=refuse_duplicate
        )
    except SignatureError:
        raise
    except Exception as error:  # a parser bug on hostile input must still read as "bad signature"
        raise SignatureError(f"the {what} header is not a structured dictionary") from error
    assert isinstance(parsed, dict)
    return parsed


@lru_cache(maxsize=256)
def _parse_date_text(value: str) -> datetime:
    # Cached: every request in the same second carries the same Date text.
    moment = email.utils.parsedate_to_datetime(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_http_date(value: str | None) -> datetime:
    if value is None:
        raise SignatureError("the signature covers date, but there is no Date header")
    try:
        return _parse_date_text(value)
    except (TypeError, ValueError, IndexError, OverflowError) as error:
        raise SignatureError(f"unparseable Date header {value[:64]!r}") from error


def _timestamp(value: object, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise SignatureError(f"the {what} parameter is missing or not a timestamp") from error


def _check_time(signed: datetime, now: datetime, what: str) -> None:
    if signed < now - MAX_AGE:
        raise SignatureError(f"{what} is too old ({signed:%Y-%m-%d %H:%M:%S} UTC)")
    if signed > now + MAX_AHEAD:
        raise SignatureError(f"{what} is in the future ({signed:%Y-%m-%d %H:%M:%S} UTC)")


def _check_digest(value: str | None, body: bytes) -> None:
    if value is None:
        raise SignatureError("the signature covers digest, but there is no Digest header")
    known = False
    for entry in value.split(","):
        name, equals, encoded = entry.strip().partition("=")
        hasher = _DIGESTS.get(name.lower())
        if not equals or hasher is None:
            continue
        # Digests of a body anyone can read are no secret: a plain comparison is fine.
        if _b64decode(encoded) != hasher(body).digest():
            raise SignatureError("the Digest does not match the body")
        known = True
    if not known:
        raise SignatureError("the Digest is neither SHA-256 nor SHA-512")


def _check_content_digest(value: str, body: bytes) -> None:
    known = False
    for name, (digest, _params) in _parse_dictionary(value, "Content-Digest").items():
        hasher = _DIGESTS.get(name)
        if hasher is None:
            continue
        if not isinstance(digest, bytes) or digest != hasher(body).digest():
            raise SignatureError("the Content-Digest does not match the body")
        known = True
    if not known:
        raise SignatureError("the Content-Digest is neither sha-256 nor sha-512")


def _sign(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, _PKCS1, _SHA256)
    return private_key.sign(data)


def _check(public_key: PublicKey, alg: str, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if alg == "rsa-v1_5-sha256":
                public_key.verify(signature, data, _PKCS1, _SHA256)
                return True
            if alg == "rsa-pss-sha512":
                public_key.verify(signature, data, _PSS, _SHA512)
                return True
        elif isinstance(public_key, ed25519.Ed25519PublicKey) and alg == "ed25519":
            public_key.verify(signature, data)
            return True
    except InvalidSignature:
        pass
    return False


def _inferred_algs(public_key: PublicKey) -> tuple[str, ...]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return ("rsa-v1_5-sha256", "rsa-pss-sha512")
    return ("ed25519",)


def _authority(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return host if port is None or port == _DEFAULT_PORTS.get(parts.scheme) else f"{host}:{port}"


def _request_target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _port(url: httpx.URL) -> int:
    return url.port or _DEFAULT_PORTS.get(url.scheme, 0)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError("a signature or digest is not valid base64") from error


def _utcnow() -> datetime:
    return datetime.now(UTC)
