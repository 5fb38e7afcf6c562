"""Signing and verifying HTTP requests: round trips, bad input, and the double-knock."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from federation import keys
from federation.cavage import http_date, sign_cavage
from federation.errors import NotFound, SignatureError
from federation.keyresolver import KeyResolver
from federation.keys import SigningKey
from federation.rfc9421 import sign_rfc9421
from federation.signatures import SchemeMemory, SigningAuth, origin, verify

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ACTOR = "https://remote.example/users/alice"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://ayni.example/inbox"
BODY = b'{"type": "Follow", "actor": "https://remote.example/users/alice"}'


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return keys.generate_private_key()


@pytest.fixture(scope="module")
def other_key() -> Any:
    return keys.generate_private_key()


def actor_document(public_key: Any, key_id: str = KEY_ID) -> dict[str, Any]:
    return {
        "id": ACTOR,
        "type": "Person",
        "inbox": f"{ACTOR}/inbox",
        "publicKey": {
            "id": key_id,
            "owner": ACTOR,
            "publicKeyPem": keys.public_key_to_pem(public_key),
        },
    }


def resolver_for(document: dict[str, Any]) -> KeyResolver:
    async def fetch(url: str) -> dict[str, Any]:
        if url == document["id"]:
            return document
        raise NotFound("no such document", url=url, status=404)

    return KeyResolver(fetch)


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# Round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize("method,body", [("GET", b""), ("POST", BODY)])
async def test_our_signed_request_verifies_with_our_verifier(
    rsa_key: Any, sign: Any, method: str, body: bytes
) -> None:
    # Given a request signed by a remote actor's key
    headers = sign(method, INBOX, SigningKey(KEY_ID, rsa_key), body, now=NOW)
    # When we verify it
    key_id = await verify(
        method, INBOX, headers, body, resolver_for(actor_document(rsa_key)), now=NOW
    )
    # Then the key that signed is the actor's key
    assert key_id == KEY_ID


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize("method,body", [("GET", b""), ("POST", BODY)])
async def test_ed25519_signed_request_verifies(sign: Any, method: str, body: bytes) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    headers = sign(method, INBOX, SigningKey(KEY_ID, private), body, now=NOW)
    key_id = await verify(
        method, INBOX, headers, body, resolver_for(actor_document(private.public_key())), now=NOW
    )
    assert key_id == KEY_ID


async def test_inbox_learns_the_owner_of_the_signing_key(rsa_key: Any) -> None:
    resolver = resolver_for(actor_document(rsa_key))
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    key_id = await verify("POST", INBOX, headers, BODY, resolver, now=NOW)
    assert resolver.owner_of(key_id) == ACTOR


def test_cavage_post_signs_request_target_host_date_digest(rsa_key: Any) -> None:
    headers = sign_cavage(
        "POST", "https://ayni.example:443/inbox", SigningKey(KEY_ID, rsa_key), BODY, now=NOW
    )
    assert headers["Host"] == "ayni.example"  # no default port
    assert headers["Date"] == "Sun, 01 Mar 2026 12:00:00 GMT"
    assert headers["Digest"].startswith("SHA-256=")
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    assert 'algorithm="rsa-sha256"' in headers["Signature"]
    assert f'keyId="{KEY_ID}"' in headers["Signature"]


def test_cavage_get_signs_request_target_host_date_and_keeps_other_ports(rsa_key: Any) -> None:
    headers = sign_cavage(
        "GET", "http://ayni.example:8080/users/a", SigningKey(KEY_ID, rsa_key), now=NOW
    )
    assert headers["Host"] == "ayni.example:8080"
    assert "Digest" not in headers
    assert 'headers="(request-target) host date"' in headers["Signature"]


def test_rfc9421_post_covers_method_target_authority_and_content_digest(rsa_key: Any) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    assert headers["Content-Digest"].startswith("sha-256=:")
    assert headers["Signature-Input"].startswith(
        'sig1=("@method" "@target-uri" "@authority" "content-digest");created=1772366400;'
    )


async def test_header_names_in_any_case_verify(rsa_key: Any) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    upper = {name.upper(): value for name, value in headers.items()}
    resolver = resolver_for(actor_document(rsa_key))
    assert await verify("POST", INBOX, upper, BODY, resolver, now=NOW) == KEY_ID


async def test_date_50_minutes_old_is_accepted(rsa_key: Any) -> None:
    headers = sign_cavage(
        "POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW - timedelta(minutes=50)
    )
    resolver = resolver_for(actor_document(rsa_key))
    assert await verify("POST", INBOX, headers, BODY, resolver, now=NOW) == KEY_ID


async def test_request_target_signed_without_query_still_verifies(rsa_key: Any) -> None:
    # Some servers sign the path alone although the request carries a query.
    headers = sign_cavage(
        "GET", "https://ayni.example/outbox", SigningKey(KEY_ID, rsa_key), now=NOW
    )
    resolver = resolver_for(actor_document(rsa_key))
    key_id = await verify(
        "GET", "https://ayni.example/outbox?page=1", headers, b"", resolver, now=NOW
    )
    assert key_id == KEY_ID


# Bad input: always SignatureError ---------------------------------------------------


async def rejected(
    headers: dict[str, str], public_key: Any, *, method: str = "POST", body: bytes = BODY
) -> str:
    with pytest.raises(SignatureError) as caught:
        await verify(
            method, INBOX, headers, body, resolver_for(actor_document(public_key)), now=NOW
        )
    return str(caught.value)


async def test_request_without_signature_is_rejected(rsa_key: Any) -> None:
    reason = await rejected({"Host": "ayni.example", "Date": http_date(NOW)}, rsa_key)
    assert "not signed" in reason


async def test_rsa_sha1_is_rejected(rsa_key: Any) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "rsa-sha1")
    assert "rsa-sha1" in await rejected(headers, rsa_key)


async def test_post_whose_signature_does_not_cover_digest_is_rejected(rsa_key: Any) -> None:
    # A GET-shaped signature (no digest) replayed on a POST
    headers = sign_cavage("GET", INBOX, SigningKey(KEY_ID, rsa_key), now=NOW)
    assert "digest" in await rejected(headers, rsa_key)


async def test_body_one_byte_off_its_digest_is_rejected(rsa_key: Any) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    assert "Digest does not match" in await rejected(headers, rsa_key, body=BODY[:-1] + b"!")


async def test_rfc9421_body_one_byte_off_its_content_digest_is_rejected(rsa_key: Any) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    assert "Content-Digest does not match" in await rejected(headers, rsa_key, body=BODY + b" ")


@pytest.mark.parametrize("offset", [timedelta(hours=-2), timedelta(hours=2)])
async def test_date_two_hours_off_is_rejected(rsa_key: Any, offset: timedelta) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW + offset)
    assert "Date is" in await rejected(headers, rsa_key)


@pytest.mark.parametrize("offset", [timedelta(hours=-2), timedelta(hours=2)])
async def test_rfc9421_created_two_hours_off_is_rejected(rsa_key: Any, offset: timedelta) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW + offset)
    assert "created is" in await rejected(headers, rsa_key)


async def test_unparseable_date_is_rejected(rsa_key: Any) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Date"] = "yesterday at noon"
    assert "unparseable Date" in await rejected(headers, rsa_key)


async def test_signature_made_with_another_key_is_rejected(rsa_key: Any, other_key: Any) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, other_key), BODY, now=NOW)
    assert "does not match the key" in await rejected(headers, rsa_key)


async def test_rfc9421_signature_made_with_another_key_is_rejected(
    rsa_key: Any, other_key: Any
) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, other_key), BODY, now=NOW)
    assert "does not match the key" in await rejected(headers, rsa_key)


async def test_rfc9421_without_created_is_rejected(rsa_key: Any) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature-Input"] = headers["Signature-Input"].replace(";created=1772366400", "")
    assert "no created" in await rejected(headers, rsa_key)


@pytest.mark.parametrize("alg", ["hmac-sha256", "ecdsa-p256-sha256", "rsa-sha1"])
async def test_rfc9421_algorithm_we_do_not_accept_is_rejected(rsa_key: Any, alg: str) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", alg)
    assert "unsupported signature algorithm" in await rejected(headers, rsa_key)


async def test_rfc9421_alg_that_does_not_fit_the_key_is_rejected(rsa_key: Any) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", "ed25519")
    assert "does not match" in await rejected(headers, rsa_key)


async def test_rfc9421_post_not_covering_content_digest_is_rejected(rsa_key: Any) -> None:
    headers = sign_rfc9421("GET", INBOX, SigningKey(KEY_ID, rsa_key), now=NOW)
    assert "content-digest" in await rejected(headers, rsa_key)


async def test_second_bad_signature_beside_a_good_one_fails_the_request(
    rsa_key: Any, other_key: Any
) -> None:
    # Given one valid RFC 9421 signature and one made with a key that is not the actor's
    good = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    bad = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, other_key), BODY, now=NOW)
    for first, second in ((good, bad), (bad, good)):
        headers = dict(good)
        headers["Signature-Input"] = (
            first["Signature-Input"] + ", " + second["Signature-Input"].replace("sig1=", "sig2=")
        )
        headers["Signature"] = (
            first["Signature"] + ", " + second["Signature"].replace("sig1=", "sig2=")
        )
        # Then, in either order, the request does not pass
        assert "does not match" in await rejected(headers, rsa_key)


async def test_signature_input_without_matching_signature_is_rejected(rsa_key: Any) -> None:
    headers = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature"] = headers["Signature"].replace("sig1=", "other=")
    assert "labels" in await rejected(headers, rsa_key)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        'keyId="x"',
        'keyId="https://remote.example/users/alice#main-key",signature="%%%"',
        'keyId="a",keyId="b",signature="AAAA",headers="(request-target) date"',
        (
            'keyId="https://remote.example/users/alice#main-key",'
            'headers="(request-target) host date digest",signature="AAAA"'
        ),
        "keyId=unquoted,signature=also",
    ],
)
async def test_garbage_signature_header_is_rejected(rsa_key: Any, garbage: str) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature"] = garbage
    await rejected(headers, rsa_key)


async def test_cavage_signature_not_covering_request_target_is_rejected(rsa_key: Any) -> None:
    headers = sign_cavage("POST", INBOX, SigningKey(KEY_ID, rsa_key), BODY, now=NOW)
    headers["Signature"] = headers["Signature"].replace("(request-target) ", "")
    assert "(request-target)" in await rejected(headers, rsa_key)


async def test_signature_replayed_to_another_path_is_rejected(rsa_key: Any) -> None:
    headers = sign_cavage(
        "POST", "https://ayni.example/users/bob/inbox", SigningKey(KEY_ID, rsa_key), BODY, now=NOW
    )
    assert "does not match" in await rejected(headers, rsa_key)


async def test_key_that_cannot_be_fetched_is_a_signature_error(rsa_key: Any) -> None:
    headers = sign_cavage(
        "POST", INBOX, SigningKey("https://gone.example/actor#main-key", rsa_key), BODY, now=NOW
    )
    assert "could not be had" in await rejected(headers, rsa_key)


# The double-knock ----------------------------------------------------------------------


def picky_server(accepts: str, seen: list[str]) -> httpx.MockTransport:
    """A server accepting only one signature scheme, as a remote inbox might."""

    def handle(request: httpx.Request) -> httpx.Response:
        scheme = "rfc9421" if "signature-input" in request.headers else "cavage"
        seen.append(scheme)
        return httpx.Response(202 if scheme == accepts else 401)

    return httpx.MockTransport(handle)


async def test_auth_signs_with_cavage_first_and_remembers_it(rsa_key: Any) -> None:
    seen: list[str] = []
    auth = SigningAuth(SigningKey(KEY_ID, rsa_key))
    async with httpx.AsyncClient(transport=picky_server("cavage", seen), auth=auth) as client:
        response = await client.post("https://mastodon.example/inbox", content=BODY)
    assert response.status_code == 202
    assert seen == ["cavage"]
    assert auth.schemes.first("https://mastodon.example/inbox") == "cavage"


async def test_auth_retries_once_with_rfc9421_and_remembers_the_origin(rsa_key: Any) -> None:
    seen: list[str] = []
    schemes = SchemeMemory()
    auth = SigningAuth(SigningKey(KEY_ID, rsa_key), schemes=schemes)
    async with httpx.AsyncClient(transport=picky_server("rfc9421", seen), auth=auth) as client:
        first = await client.post("https://new.example/inbox", content=BODY)
        second = await client.get("https://new.example/users/ana")
    assert (first.status_code, second.status_code) == (202, 202)
    # one refused knock, then straight to the scheme that worked, for the whole origin
    assert seen == ["cavage", "rfc9421", "rfc9421"]
    assert schemes.first("https://NEW.example:443/") == "rfc9421"
    assert schemes.first("https://new.example:8443/") == "cavage"


async def test_auth_gives_up_after_two_knocks(rsa_key: Any) -> None:
    seen: list[str] = []
    auth = SigningAuth(SigningKey(KEY_ID, rsa_key))
    async with httpx.AsyncClient(transport=picky_server("nothing", seen), auth=auth) as client:
        response = await client.post("https://closed.example/inbox", content=BODY)
    assert response.status_code == 401
    assert seen == ["cavage", "rfc9421"]
    assert auth.schemes.first("https://closed.example/inbox") == "cavage"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://social.example/inbox", "https://social.example"),
        ("https://social.example:443/users/a?page=1", "https://social.example"),
        ("HTTPS://Social.Example/x", "https://social.example"),
        ("https://social.example:8443/inbox", "https://social.example:8443"),
        ("http://social.example:80/inbox", "http://social.example"),
        ("http://social.example:443/inbox", "http://social.example:443"),
        ("https://bücher.example/inbox", "https://xn--bcher-kva.example"),
        ("https://[::1]:443/inbox", "https://[::1]"),
    ],
)
def test_the_origin_is_scheme_lower_case_host_and_a_port_only_when_not_the_default(
    url: str, expected: str
) -> None:
    assert origin(url) == expected


async def test_what_one_signer_learns_every_signer_sharing_the_memory_knocks_with_first(
    rsa_key: Any,
) -> None:
    # Given a server that wants RFC 9421, found out by one actor's request on its default port
    seen: list[str] = []
    schemes = SchemeMemory()
    group = SigningAuth(SigningKey(KEY_ID, rsa_key), schemes=schemes)
    instance = SigningAuth(SigningKey(f"{ACTOR}/instance#main-key", rsa_key), schemes=schemes)
    async with httpx.AsyncClient(transport=picky_server("rfc9421", seen), auth=group) as client:
        await client.post("https://picky.example:443/inbox", content=BODY)
    # When another actor fetches from it, the port left out
    async with httpx.AsyncClient(transport=picky_server("rfc9421", seen), auth=instance) as client:
        response = await client.get("https://picky.example/users/ana")
    # Then its first knock is RFC 9421
    assert response.status_code == 202
    assert seen == ["cavage", "rfc9421", "rfc9421"]


async def test_an_origin_that_takes_cavage_again_is_knocked_with_cavage_first(rsa_key: Any) -> None:
    seen: list[str] = []
    schemes = SchemeMemory()
    schemes.accepted("https://changed.example/inbox", "rfc9421")
    auth = SigningAuth(SigningKey(KEY_ID, rsa_key), schemes=schemes)
    async with httpx.AsyncClient(transport=picky_server("cavage", seen), auth=auth) as client:
        await client.post("https://changed.example/inbox", content=BODY)
        await client.post("https://changed.example/inbox", content=BODY)
    assert seen == ["rfc9421", "cavage", "cavage"]


async def test_request_signed_by_auth_verifies_on_the_receiving_side(rsa_key: Any) -> None:
    resolver = resolver_for(actor_document(rsa_key))
    outcomes: list[str] = []

    async def inbox(request: httpx.Request) -> httpx.Response:
        key_id = await verify(
            request.method,
            str(request.url),
            dict(request.headers),
            request.content,
            resolver,
            now=NOW,
        )
        outcomes.append(key_id)
        return httpx.Response(202)

    auth = SigningAuth(SigningKey(KEY_ID, rsa_key), now=lambda: NOW)
    transport = httpx.MockTransport(inbox)
    async with httpx.AsyncClient(transport=transport, auth=auth) as client:
        await client.post("https://ayni.example:8443/inbox?x=1", content=BODY)
        await client.get("https://ayni.example/users/bob")
    assert outcomes == [KEY_ID, KEY_ID]


def hs2019_with_created(
    private_key: Any, created: datetime, expires: datetime | None = None, algorithm: str = "hs2019"
) -> dict[str, str]:
    """A cavage signature over (created)/(expires) instead of Date, as newer signers send."""
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    covered = ["(request-target)", "(created)"] + (["(expires)"] if expires else []) + ["digest"]
    values = {
        "(request-target)": "post /inbox",
        "(created)": str(int(created.timestamp())),
        "(expires)": str(int(expires.timestamp())) if expires else "",
        "digest": digest,
    }
    signed = "\n".join(f"{name}: {values[name]}" for name in covered).encode()
    signature = base64.b64encode(private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256()))
    params = f'keyId="{KEY_ID}",algorithm="{algorithm}",created={values["(created)"]},'
    if expires:
        params += f"expires={values['(expires)']},"
    params += f'headers="{" ".join(covered)}",signature="{signature.decode()}"'
    return {"Digest": digest, "Signature": params}


async def test_hs2019_covering_created_instead_of_date_verifies(rsa_key: Any) -> None:
    headers = hs2019_with_created(rsa_key, NOW - timedelta(minutes=5), NOW + timedelta(minutes=5))
    resolver = resolver_for(actor_document(rsa_key))
    assert await verify("POST", INBOX, headers, BODY, resolver, now=NOW) == KEY_ID


async def test_created_two_hours_old_is_rejected(rsa_key: Any) -> None:
    headers = hs2019_with_created(rsa_key, NOW - timedelta(hours=2))
    assert "created is too old" in await rejected(headers, rsa_key)


async def test_expired_signature_is_rejected(rsa_key: Any) -> None:
    headers = hs2019_with_created(rsa_key, NOW - timedelta(minutes=10), NOW - timedelta(minutes=1))
    assert "expired" in await rejected(headers, rsa_key)


async def test_created_pseudo_header_with_rsa_sha256_is_rejected(rsa_key: Any) -> None:
    headers = hs2019_with_created(rsa_key, NOW, algorithm="rsa-sha256")
    assert "hs2019" in await rejected(headers, rsa_key)
