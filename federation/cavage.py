"""draft-cavage-12 HTTP Signatures: the `Signature` header over (request-target), host, date,
digest.

    sign_cavage(method, url, key, body=None, *, now=None, digest=None) -> dict[str, str]
                                                    headers to add (Host, Date, Digest, Signature)

Requests are verified through `federation.signatures.verify`, which calls `verify_cavage`.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from federation.errors import SignatureError
from federation.keys import PublicKey, SigningKey
from federation.signing_primitives import (
    DIGESTS,
    MAX_HEADER,
    KeyLookup,
    addressed,
    b64,
    b64decode,
    check,
    check_time,
    request_target,
    sign,
    timestamp,
    utcnow,
    verified_by,
)

_CAVAGE_PARAM = r'\s*([A-Za-z]+)\s*=\s*(?:"([^"\\]*)"|(\d{1,15}))\s*(?:,|\Z)'
# Checked whole first (linear time, even on hostile input), then read in a single pass.
_CAVAGE_HEADER = re.compile(f"(?:{_CAVAGE_PARAM})+")
_CAVAGE_PARAMS = re.compile(_CAVAGE_PARAM)


def sign_cavage(
    method: str,
    url: str,
    key: SigningKey,
    body: bytes | None = None,
    *,
    now: datetime | None = None,
    digest: bytes | None = None,
) -> dict[str, str]:
    """Headers (Host, Date, Digest on POST, Signature) that sign a request, draft-cavage-12.
    `digest` is the body's SHA-256 when the caller has it already: a delivery digests its
    activity once, not once per inbox."""
    host, target = addressed(url)
    added = {"Host": host, "Date": http_date(now or utcnow())}
    covered = "(request-target) host date"
    base = f"(request-target): {method.lower()} {target}\nhost: {host}\ndate: {added['Date']}"
    if method.upper() == "POST" or body:
        added["Digest"] = "SHA-256=" + b64(digest or hashlib.sha256(body or b"").digest())
        covered += " digest"
        base += f"\ndigest: {added['Digest']}"
    algorithm = "rsa-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "hs2019"
    signature = b64(sign(key.private_key, base.encode()))
    added["Signature"] = (
        f'keyId="{key.key_id}",algorithm="{algorithm}",headers="{covered}",signature="{signature}"'
    )
    return added


def http_date(moment: datetime) -> str:
    return _http_date_of_second(int(moment.timestamp()))


@lru_cache(maxsize=4)
def _http_date_of_second(second: int) -> str:
    # A worker signs thousands of requests a second; the Date changes once a second.
    return email.utils.format_datetime(datetime.fromtimestamp(second, UTC), usegmt=True)


async def verify_cavage(
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
        check_time(_parse_http_date(fields.get("date")), moment, "Date")
    if algorithm == "rsa-sha256" and ("(created)" in covered or "(expires)" in covered):
        raise SignatureError("(created) and (expires) need algorithm hs2019, not rsa-sha256")
    if "(created)" in covered or "created" in params:
        check_time(timestamp(params.get("created"), "created"), moment, "created")
    expiring = "(expires)" in covered or "expires" in params
    if expiring and timestamp(params.get("expires"), "expires") < moment:
        raise SignatureError("the signature has expired")
    if "digest" in covered:
        _check_digest(fields.get("digest"), body)
    signature = b64decode(encoded)
    parts = urlsplit(url)
    targets = [request_target(parts)]
    if parts.query:
        targets.append(parts.path or "/")  # some signers leave the query out
    bases = [_cavage_base(covered, method, target, fields, params) for target in targets]

    def matches(public_key: PublicKey) -> bool:
        is_rsa = isinstance(public_key, rsa.RSAPublicKey)
        if algorithm == "rsa-sha256" and not is_rsa:
            return False
        alg = "rsa-v1_5-sha256" if is_rsa else "ed25519"
        return any(check(public_key, alg, signature, base) for base in bases)

    return await verified_by(keys, key_id, matches)


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


def _check_digest(value: str | None, body: bytes) -> None:
    if value is None:
        raise SignatureError("the signature covers digest, but there is no Digest header")
    known = False
    for entry in value.split(","):
        name, equals, encoded = entry.strip().partition("=")
        hasher = DIGESTS.get(name.lower())
        if not equals or hasher is None:
            continue
        # Digests of a body anyone can read are no secret: a plain comparison is fine.
        if b64decode(encoded) != hasher(body).digest():
            raise SignatureError("the Digest does not match the body")
        known = True
    if not known:
        raise SignatureError("the Digest is neither SHA-256 nor SHA-512")
