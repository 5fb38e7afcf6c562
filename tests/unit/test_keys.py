"""Keys: generation, PEM round trips, FEP-521a multikeys, and the parse cache."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation import keys
from federation.errors import InvalidDocument


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return keys.generate_private_key()


def test_generated_key_is_rsa_2048(private_key: rsa.RSAPrivateKey) -> None:
    assert private_key.key_size == 2048
    assert private_key.public_key().public_numbers().e == 65537


def test_private_key_survives_a_pem_round_trip(private_key: rsa.RSAPrivateKey) -> None:
    pem = keys.private_key_to_pem(private_key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    loaded = keys.load_private_key(pem)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == private_key.private_numbers()


def test_public_key_survives_a_pem_round_trip(private_key: rsa.RSAPrivateKey) -> None:
    pem = keys.public_key_to_pem(private_key)  # a private key gives its public half
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    loaded = keys.load_public_key(pem)
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == private_key.public_key().public_numbers()


def test_pkcs1_rsa_public_key_pem_is_accepted(private_key: rsa.RSAPrivateKey) -> None:
    pkcs1 = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    loaded = keys.load_public_key(pkcs1.decode())
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == private_key.public_key().public_numbers()


def test_ed25519_public_key_pem_is_accepted() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    loaded = keys.load_public_key(keys.public_key_to_pem(private.public_key()))
    assert isinstance(loaded, ed25519.Ed25519PublicKey)
    assert loaded.public_bytes_raw() == private.public_key().public_bytes_raw()


def test_parsed_private_key_is_cached_so_signing_never_parses(
    private_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = keys.private_key_to_pem(private_key)
    first = keys.load_private_key(pem)
    parses = []
    real = serialization.load_pem_private_key
    monkeypatch.setattr(
        serialization, "load_pem_private_key", lambda *a, **k: parses.append(1) or real(*a, **k)
    )
    for _ in range(1000):
        assert keys.load_private_key(pem) is first
    assert parses == []  # a PEM parse costs ~50 ms: never again once cached


def test_parsed_public_key_is_cached(private_key: rsa.RSAPrivateKey) -> None:
    pem = keys.public_key_to_pem(private_key)
    assert keys.load_public_key(pem) is keys.load_public_key(pem)


@pytest.mark.parametrize(
    "pem",
    ["", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "é" * 10],
)
def test_unusable_public_key_pem_is_an_invalid_document(pem: str) -> None:
    with pytest.raises(InvalidDocument):
        keys.load_public_key(pem)


def test_weak_rsa_key_is_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(InvalidDocument, match="1024 bits"):
        keys.load_public_key(keys.public_key_to_pem(weak))


def test_ed25519_multikey_round_trips_with_the_standard_prefix() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    multibase = keys.public_key_to_multikey(private)
    assert multibase.startswith("z6Mk")  # base58btc of the ed25519-pub multicodec
    loaded = keys.load_multikey(multibase)
    assert isinstance(loaded, ed25519.Ed25519PublicKey)
    assert loaded.public_bytes_raw() == private.public_key().public_bytes_raw()


def test_known_ed25519_multikey_from_fep_521a_parses() -> None:
    # The example key of FEP-521a / the Controlled Identifiers spec.
    loaded = keys.load_multikey("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    assert isinstance(loaded, ed25519.Ed25519PublicKey)


def test_rsa_multikey_round_trips(private_key: rsa.RSAPrivateKey) -> None:
    loaded = keys.load_multikey(keys.public_key_to_multikey(private_key))
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == private_key.public_key().public_numbers()


@pytest.mark.parametrize("multibase", ["", "uAAAA", "z0OIl", "z111", "z" + "2" * 40])
def test_unusable_multikey_is_an_invalid_document(multibase: str) -> None:
    with pytest.raises(InvalidDocument):
        keys.load_multikey(multibase)
