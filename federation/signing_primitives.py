"""Signing primitives: what draft-cavage and RFC 9421 share (keys, time window, crypto, encoding).

sign(private_key, data) -> bytes;  check(public_key, alg, signature, data) -> bool
await verified_by(keys, key_id, matches) -> str   the key id, refetching a rotated key once
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.errors import FederationError, SignatureError
from federation.keys import PrivateKey, PublicKey, VerificationKey

# Mastodon's window: a Date up to 65 minutes old (1 h skew + 5 min transit) or 1 h ahead.
MAX_AGE = timedelta(minutes=65)
MAX_AHEAD = timedelta(minutes=60)
MAX_HEADER = 8192

_PKCS1, _SHA256, _SHA512 = padding.PKCS1v15(), hashes.SHA256(), hashes.SHA512()
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)  # RFC 9421 3.3.1
DEFAULT_PORTS = {"http": 80, "https": 443}
DIGESTS: dict[str, Callable[[bytes], Any]] = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class KeyLookup(Protocol):
    """What `verify` needs from key resolution (see federation.keyresolver.KeyResolver).

    `refresh=True` asks for a refetch because the cached key did not verify; the lookup
    may refuse (raise SignatureError) when it refetched that actor very recently.
    """

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey: ...


async def verified_by(keys: KeyLookup, key_id: str, matches: Callable[[PublicKey], bool]) -> str:
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


def timestamp(value: object, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise SignatureError(f"the {what} parameter is missing or not a timestamp") from error


def check_time(signed: datetime, now: datetime, what: str) -> None:
    if signed < now - MAX_AGE:
        raise SignatureError(f"{what} is too old ({signed:%Y-%m-%d %H:%M:%S} UTC)")
    if signed > now + MAX_AHEAD:
        raise SignatureError(f"{what} is in the future ({signed:%Y-%m-%d %H:%M:%S} UTC)")


def sign(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, _PKCS1, _SHA256)
    return private_key.sign(data)


def check(public_key: PublicKey, alg: str, signature: bytes, data: bytes) -> bool:
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


def authority(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return host if port is None or port == DEFAULT_PORTS.get(parts.scheme) else f"{host}:{port}"


def request_target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@lru_cache(maxsize=4096)
def addressed(url: str) -> tuple[str, str]:
    """(the Host header, the request target) of a request to `url`: what a signature covers.
    Cached: a worker signs for the same inboxes again and again."""
    parts = urlsplit(url)
    return authority(parts), request_target(parts)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError("a signature or digest is not valid base64") from error


def utcnow() -> datetime:
    return datetime.now(UTC)
