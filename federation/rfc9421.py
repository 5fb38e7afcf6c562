"""RFC 9421 HTTP Message Signatures: `Signature-Input` and `Signature`, with `Content-Digest`.

    sign_rfc9421(method, url, key, body=None, *, now=None, digest=None) -> dict[str, str]
                                headers to add (Content-Digest, Signature-Input, Signature)
    parse_rfc9421(method, url, fields) -> list[MessageSignature]       each label and its base

Requests are verified through `federation.signatures.verify`, which calls `verify_rfc9421`.
Several signatures in one request: every label in `Signature-Input` must verify (at most
four); one bad signature fails the whole request. The key id of the first label is returned.

Libraries: RFC 9421 is implemented here on top of `http-sf` (structured fields). The
`http-message-signatures` package was not used inside: its verifier resolves keys
synchronously (our lookups are async fetches), reads the wall clock with a fixed 5 s skew
(we need a 65/60 minute window and an injectable clock), and binds one algorithm per
verifier (we infer it per key). It is the independent implementation the tests check
against instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.hazmat.primitives.asymmetric import rsa
from http_sf.innerlist import ser_innerlist

from federation.errors import SignatureError
from federation.keys import PublicKey, SigningKey
from federation.signing_primitives import (
    DIGESTS,
    MAX_HEADER,
    KeyLookup,
    addressed,
    authority,
    b64,
    check,
    check_time,
    request_target,
    sign,
    timestamp,
    utcnow,
    verified_by,
)

MAX_LABELS = 4  # each label may cost a key fetch; more than this is abuse, not interop

_COMPONENT = re.compile(r"@?[a-z0-9!#$%&'*+.^_`|~-]+")
_RFC9421_ALGS = frozenset({"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"})
_DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
)


def sign_rfc9421(
    method: str,
    url: str,
    key: SigningKey,
    body: bytes | None = None,
    *,
    now: datetime | None = None,
    digest: bytes | None = None,
) -> dict[str, str]:
    """Headers (Content-Digest on POST, Signature-Input, Signature) for an RFC 9421 signature.
    `digest` is the body's SHA-256 when the caller has it already (see sign_cavage)."""
    added: dict[str, str] = {}
    values = {"@method": method.upper(), "@target-uri": url, "@authority": addressed(url)[0]}
    if method.upper() == "POST" or body:
        added["Content-Digest"] = f"sha-256=:{b64(digest or hashlib.sha256(body or b'').digest())}:"
        values["content-digest"] = added["Content-Digest"]
    alg = "rsa-v1_5-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "ed25519"
    created = int((now or utcnow()).timestamp())
    params = ser_innerlist(
        ([(name, {}) for name in values], {"created": created, "keyid": key.key_id, "alg": alg})
    )
    base = "".join(f'"{name}": {value}\n' for name, value in values.items())
    signature = sign(key.private_key, f'{base}"@signature-params": {params}'.encode())
    added["Signature-Input"] = f"sig1={params}"
    added["Signature"] = f"sig1=:{b64(signature)}:"
    return added


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
            return check(public_key, self.alg, self.signature, self.base)
        # No alg: the key decides. An RSA key may sign either RSA scheme (RFC 9421 3.3.1-2);
        # both are sound, so accepting either one lets nothing unsigned through.
        return any(
            check(public_key, alg, self.signature, self.base) for alg in _inferred_algs(public_key)
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
        "@authority": authority(parts),
        "@scheme": parts.scheme.lower(),
        "@request-target": request_target(parts),
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


async def verify_rfc9421(
    method: str, url: str, fields: dict[str, str], body: bytes, keys: KeyLookup, moment: datetime
) -> str:
    parsed = parse_rfc9421(method, url, fields)
    digest_checked = False
    for signature in parsed:
        covered = signature.components
        if signature.created is None:
            raise SignatureError(f"signature {signature.label} has no created parameter")
        check_time(timestamp(signature.created, "created"), moment, "created")
        if signature.expires is not None and timestamp(signature.expires, "expires") < moment:
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
    key_ids = [await verified_by(keys, s.key_id, s.matches) for s in parsed]
    return key_ids[0]


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


def _check_content_digest(value: str, body: bytes) -> None:
    known = False
    for name, (digest, _params) in _parse_dictionary(value, "Content-Digest").items():
        hasher = DIGESTS.get(name)
        if hasher is None:
            continue
        if not isinstance(digest, bytes) or digest != hasher(body).digest():
            raise SignatureError("the Content-Digest does not match the body")
        known = True
    if not known:
        raise SignatureError("the Content-Digest is neither sha-256 nor sha-512")


def _inferred_algs(public_key: PublicKey) -> tuple[str, ...]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return ("rsa-v1_5-sha256", "rsa-pss-sha512")
    return ("ed25519",)
