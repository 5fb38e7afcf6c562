"""Keys: generation, PEM (de)serialisation, and the parsed-key caches.

Parsing a PEM costs tens of milliseconds for an RSA private key (the
consistency checks), so every load goes through an in-memory cache keyed by
the PEM text: signing and verifying never parse on the hot path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.errors import InvalidDocument

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """What a local actor signs with: its key id (`<actor>#main-key`) and private key."""

    key_id: str
    private_key: PrivateKey


@dataclass(frozen=True)
class VerificationKey:
    """A remote public key, who owns it, and whether this lookup has just fetched it.

    `fresh` tells the verifier that refetching cannot give a newer key.
    """

    key_id: str
    owner_uri: str
    public_key: PublicKey
    fresh: bool = False


def generate_private_key() -> rsa.RSAPrivateKey:
    # 2048 bits: what Mastodon, GoToSocial and Fedify generate and expect.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_to_pem(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(public_key_pem: str) -> str:
    """`sha256:` and the hex digest of the key's DER form: the same key, however its PEM is
    wrapped, has one fingerprint (what `ayni backup` records and `ayni restore` checks)."""
    der = load_public_key(public_key_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


@lru_cache(maxsize=1024)
def load_private_key(pem: str) -> PrivateKey:
    """Parse one of our own private keys; a broken PEM raises ValueError. We made the key and
    kept it in our own database, so OpenSSL's consistency check (30 ms for RSA-2048, the first
    delivery of each actor after a start) guards against nothing and is skipped."""
    key = serialization.load_pem_private_key(
        pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise TypeError(f"unsupported private key type {type(key).__name__}")
    return key


@lru_cache(maxsize=8192)
def load_public_key(pem: str) -> PublicKey:
    """Parse a remote actor's `publicKeyPem` (RSA or Ed25519; SPKI, or PKCS#1 for RSA)."""
    if len(pem) > 16_384:
        raise InvalidDocument("publicKeyPem is too long")
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm) as error:
        raise InvalidDocument(f"publicKeyPem is not a PEM public key: {error}") from error
    return _checked(key)


# Multicodec prefixes (varint-encoded) used by FEP-521a `publicKeyMultibase`.
_ED25519_PUB = b"\xed\x01"
_RSA_PUB = b"\x85\x24"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@lru_cache(maxsize=8192)
def load_multikey(multibase: str) -> PublicKey:
    """Parse a FEP-521a `publicKeyMultibase` (base58btc, Ed25519 or RSA multicodec)."""
    if not multibase.startswith("z") or len(multibase) > 1024:
        raise InvalidDocument("publicKeyMultibase must be base58btc ('z' prefix)")
    raw = _base58_decode(multibase[1:])
    try:
        if raw.startswith(_ED25519_PUB) and len(raw) == 34:
            return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
        if raw.startswith(_RSA_PUB):
            # The rsa-pub multicodec carries a DER PKCS#1 RSAPublicKey.
            return _checked(serialization.load_der_public_key(raw[2:]))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise InvalidDocument(f"publicKeyMultibase is not a valid key: {error}") from error
    raise InvalidDocument("publicKeyMultibase is neither an Ed25519 nor an RSA public key")


def public_key_to_multikey(key: PublicKey | PrivateKey) -> str:
    """The FEP-521a `publicKeyMultibase` of a key, for an actor's `assertionMethod`."""
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        key = key.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = _ED25519_PUB + key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raw = _RSA_PUB + key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
    return "z" + _base58_encode(raw)


def _base58_encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = _BASE58[digit] + digits
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + digits


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _BASE58.find(char)
        if digit < 0:
            raise InvalidDocument("publicKeyMultibase has a character outside base58")
        number = number * 58 + digit
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading_zeros + body


def _checked(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        # Below 2048 bits is forgeable in practice; above 8192 is a cheap way to burn our CPU.
        if not 2048 <= key.key_size <= 8192:
            raise InvalidDocument(f"RSA key of {key.key_size} bits refused")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise InvalidDocument(f"unsupported public key type {type(key).__name__}")
