"""Interoperability: other implementations verify what we sign, and we verify what they sign.

- draft-cavage: bovine (PyPI), and a request built byte for byte the way Mastodon 4.x builds
  it (app/lib/request.rb), and the GoToSocial shape (hs2019).
- RFC 9421: http-message-signatures (PyPI), and the RFC's own Appendix B test vectors.
"""

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bovine.crypto import build_validate_http_signature_raw
from bovine.crypto.http_signature import build_signature
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver
from http_message_signatures.algorithms import ED25519, RSA_PSS_SHA512, RSA_V1_5_SHA256

from federation import keys
from federation.cavage import http_date, sign_cavage
from federation.errors import SignatureError
from federation.keys import VerificationKey
from federation.rfc9421 import parse_rfc9421, sign_rfc9421
from federation.signatures import verify

ACTOR = "https://remote.example/users/alice"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://ayni.example/inbox"
BODY = b'{"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow"}'
VECTORS = json.loads(
    (Path(__file__).parent / "fixtures/signatures/rfc9421-appendix-b.json").read_text()
)


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return keys.generate_private_key()


class FixedKeys:
    """A KeyLookup that knows a fixed set of public keys (no fetching involved)."""

    def __init__(self, public_keys: dict[str, Any]) -> None:
        self.public_keys = public_keys

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        if key_id not in self.public_keys:
            raise SignatureError(f"unknown key {key_id}")
        return VerificationKey(key_id, ACTOR, self.public_keys[key_id], fresh=True)


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# draft-cavage -------------------------------------------------------------------------


@pytest.mark.parametrize("method,body", [("GET", b""), ("POST", BODY)])
async def test_bovine_verifies_our_cavage_signature(rsa_key: Any, method: str, body: bytes) -> None:
    pem = keys.public_key_to_pem(rsa_key)

    async def key_retriever(key_id: str) -> CryptographicIdentifier | None:
        return CryptographicIdentifier.from_pem(pem, ACTOR) if key_id == KEY_ID else None

    async def read_body() -> bytes:
        return body

    validate = build_validate_http_signature_raw(key_retriever)
    headers = lowered(sign_cavage(method, INBOX, keys.SigningKey(KEY_ID, rsa_key), body))
    assert await validate(method, INBOX, headers, read_body) == ACTOR
    # and bovine is a real check: a changed body fails there too
    if method == "POST":

        async def other_body() -> bytes:
            return body + b" "

        assert await validate(method, INBOX, headers, other_body) is None


@pytest.mark.parametrize("method,body", [("GET", b""), ("POST", BODY)])
async def test_we_verify_bovines_cavage_signature(rsa_key: Any, method: str, body: bytes) -> None:
    date = http_date(datetime.now(UTC))
    signature = build_signature("ayni.example", method.lower(), "/inbox").with_field("date", date)
    if method == "POST":
        digest = "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        signature = signature.with_field("digest", digest).with_field(
            "content-type", "application/activity+json"
        )
    header = signature.sign_for_http_draft(CryptographicSecret(KEY_ID, rsa_key))
    headers = {**signature.headers, "signature": header}
    lookup = FixedKeys({KEY_ID: rsa_key.public_key()})
    assert await verify(method, INBOX, headers, body, lookup) == KEY_ID


def mastodon_signed_post(private_key: Any, url: str, body: bytes, now: datetime) -> dict[str, str]:
    """What Mastodon 4.x sends when delivering (Request#perform with a keypair)."""
    headers = {
        "User-Agent": "http.rb/5.1.1 (Mastodon/4.3.0; +https://mastodon.example/)",
        "Host": "ayni.example",  # Addressable normalized host, default port dropped
        "Date": now.strftime("%a, %d %b %Y %H:%M:%S GMT"),  # Time#httpdate
        "Accept-Encoding": "gzip",
        "Content-Type": "application/activity+json",
        "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    # signed_headers: (request-target) first, then every header but User-Agent/Accept-Encoding
    signed = {"(request-target)": "post /inbox"}
    signed.update({k: v for k, v in headers.items() if k not in ("User-Agent", "Accept-Encoding")})
    signed_string = "\n".join(f"{key.lower()}: {value}" for key, value in signed.items())
    signature = base64.b64encode(
        private_key.sign(signed_string.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    headers["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="rsa-sha256",'
        f'headers="{" ".join(signed).lower()}",signature="{signature}"'
    )
    return headers


async def test_request_built_like_mastodon_verifies(rsa_key: Any) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    headers = mastodon_signed_post(rsa_key, INBOX, BODY, now)
    assert 'headers="(request-target) host date content-type digest"' in headers["Signature"]
    lookup = FixedKeys({KEY_ID: rsa_key.public_key()})
    assert await verify("POST", INBOX, headers, BODY, lookup, now=now) == KEY_ID


async def test_request_built_like_gotosocial_with_hs2019_verifies(rsa_key: Any) -> None:
    # GoToSocial (go-fed/httpsig) says algorithm="hs2019" for RSA keys and uses /main-key ids.
    key_id = f"{ACTOR}/main-key"
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    date = http_date(now)
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    signed_string = (
        f"(request-target): post /inbox\nhost: ayni.example\ndate: {date}\ndigest: {digest}"
    )
    signature = base64.b64encode(
        rsa_key.sign(signed_string.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    headers = {
        "Host": "ayni.example",
        "Date": date,
        "Digest": digest,
        "Signature": f'keyId="{key_id}",algorithm="hs2019",'
        f'headers="(request-target) host date digest",signature="{signature}"',
    }
    lookup = FixedKeys({key_id: rsa_key.public_key()})
    assert await verify("POST", INBOX, headers, BODY, lookup, now=now) == key_id


# RFC 9421 -----------------------------------------------------------------------------


def message(method: str, url: str, headers: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(method=method, url=url, headers=headers)


@pytest.mark.parametrize("method,body", [("GET", b""), ("POST", BODY)])
def test_http_message_signatures_verifies_our_rfc9421_signature(
    rsa_key: Any, method: str, body: bytes
) -> None:
    headers = sign_rfc9421(method, INBOX, keys.SigningKey(KEY_ID, rsa_key), body)
    resolver = MappingKeyResolver(public_keys={KEY_ID: rsa_key.public_key()}, private_keys={})
    verifier = HTTPMessageVerifier(signature_algorithm=RSA_V1_5_SHA256, key_resolver=resolver)
    [result] = verifier.verify(
        message(method, INBOX, headers),
        body=body if method == "POST" else None,
        require_components=("@method", "@target-uri"),
    )
    assert result.parameters["keyid"] == KEY_ID


@pytest.mark.parametrize(
    "algorithm,private",
    [
        (RSA_V1_5_SHA256, "rsa"),
        (RSA_PSS_SHA512, "rsa"),
        (ED25519, "ed25519"),
    ],
)
@pytest.mark.parametrize("include_alg", [True, False])
async def test_we_verify_http_message_signatures_rfc9421_signature(
    rsa_key: Any, algorithm: Any, private: str, include_alg: bool
) -> None:
    key = rsa_key if private == "rsa" else ed25519.Ed25519PrivateKey.generate()
    headers = {"Content-Type": "application/activity+json"}
    request = message("POST", INBOX, headers)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: key}),
    )
    signer.sign(
        request,
        key_id=KEY_ID,
        covered_component_ids=("@method", "@target-uri", "content-type"),
        body=BODY,
        label="theirs",
        include_alg=include_alg,
    )
    lookup = FixedKeys({KEY_ID: key.public_key()})
    assert await verify("POST", INBOX, headers, BODY, lookup) == KEY_ID


def vector_request(label: str) -> tuple[dict[str, str], bytes]:
    request = VECTORS["request"]
    headers = lowered(request["headers"])
    headers["signature-input"] = VECTORS["signatures"][label]["signature-input"]
    headers["signature"] = VECTORS["signatures"][label]["signature"]
    return headers, request["body"].encode()


@pytest.mark.parametrize("label", ["B.2.1", "B.2.3", "B.2.6"])
def test_rfc9421_appendix_b_signature_bases_and_signatures_check(label: str) -> None:
    headers, _ = vector_request(label)
    [signature] = parse_rfc9421("POST", VECTORS["request"]["url"], headers)
    assert signature.base.decode() == VECTORS["signatures"][label]["base"]
    public_key = keys.load_public_key(VECTORS["keys"][signature.key_id])
    assert signature.matches(public_key)
    assert not signature.matches(keys.generate_private_key().public_key())


async def test_rfc9421_appendix_b_2_3_full_coverage_request_verifies() -> None:
    # B.2.3 covers @method, @authority + @path and content-digest: it meets our policy whole.
    headers, body = vector_request("B.2.3")
    lookup = FixedKeys(
        {"test-key-rsa-pss": keys.load_public_key(VECTORS["keys"]["test-key-rsa-pss"])}
    )
    created = datetime.fromtimestamp(VECTORS["request"]["created"], UTC)
    key_id = await verify("POST", VECTORS["request"]["url"], headers, body, lookup, now=created)
    assert key_id == "test-key-rsa-pss"


async def test_rfc9421_appendix_b_2_3_with_altered_body_is_rejected() -> None:
    headers, body = vector_request("B.2.3")
    lookup = FixedKeys(
        {"test-key-rsa-pss": keys.load_public_key(VECTORS["keys"]["test-key-rsa-pss"])}
    )
    created = datetime.fromtimestamp(VECTORS["request"]["created"], UTC)
    with pytest.raises(SignatureError, match="Content-Digest"):
        await verify("POST", VECTORS["request"]["url"], headers, body + b"\n", lookup, now=created)


@pytest.mark.parametrize(
    "label,reason",
    [
        ("B.2.1", "@method"),  # covers nothing at all
        ("B.2.6", "content-digest"),  # a POST whose body is not signed
        ("B.2.5", "@method"),  # HMAC, and it covers neither @method nor content-digest
    ],
)
async def test_rfc9421_vectors_weaker_than_our_policy_are_rejected(label: str, reason: str) -> None:
    headers, body = vector_request(label)
    public = {name: keys.load_public_key(pem) for name, pem in VECTORS["keys"].items()}
    public["test-shared-secret"] = ed25519.Ed25519PrivateKey.generate().public_key()
    created = datetime.fromtimestamp(VECTORS["request"]["created"], UTC)
    with pytest.raises(SignatureError, match=reason):
        await verify(
            "POST", VECTORS["request"]["url"], headers, body, FixedKeys(public), now=created
        )
