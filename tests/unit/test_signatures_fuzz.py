"""Property-based: whatever arrives in the headers, verify answers with SignatureError only."""

import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation import keys
from federation.cavage import sign_cavage
from federation.errors import SignatureError
from federation.keys import SigningKey, VerificationKey
from federation.rfc9421 import sign_rfc9421
from federation.signatures import verify

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY_ID = "https://remote.example/users/alice#main-key"
INBOX = "https://ayni.example/inbox"
BODY = b'{"type": "Like"}'
PRIVATE = keys.generate_private_key()
SIGNED_CAVAGE = sign_cavage("POST", INBOX, SigningKey(KEY_ID, PRIVATE), BODY, now=NOW)
SIGNED_RFC9421 = sign_rfc9421("POST", INBOX, SigningKey(KEY_ID, PRIVATE), BODY, now=NOW)


class AnyKey:
    """Resolves every key id to the real key, so garbage reaches the deepest checks."""

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        return VerificationKey(key_id, "https://remote.example/users/alice", PRIVATE.public_key())


class OnlyTheKey:
    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        if key_id != KEY_ID:
            raise SignatureError("unknown key")
        return VerificationKey(key_id, "https://remote.example/users/alice", PRIVATE.public_key())


HEADER_NAMES = st.sampled_from(
    ["Signature", "Signature-Input", "Date", "Digest", "Content-Digest", "Host", "X-Other"]
)
# Text near the real grammar (quotes, commas, equals, colons, parentheses) finds more paths.
NEAR_GRAMMAR = st.text(
    alphabet=st.sampled_from(list('keyIdsig="(),;:=@-_ 0123abcAB+/\\')), max_size=80
)
HEADER_VALUES = st.one_of(st.text(max_size=120), NEAR_GRAMMAR)


def mutate(base: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    headers = dict(base)
    headers.update(changes)
    return headers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([{}, SIGNED_CAVAGE, SIGNED_RFC9421]),
    changes=st.dictionaries(HEADER_NAMES, HEADER_VALUES, min_size=1, max_size=4),
    method=st.sampled_from(["GET", "POST", "post", "PUT"]),
    body=st.binary(max_size=40),
)
async def test_garbage_headers_raise_only_signature_error(
    base: dict[str, str], changes: dict[str, str], method: str, body: bytes
) -> None:
    try:
        await verify(method, INBOX, mutate(base, changes), body, AnyKey(), now=NOW)
    except SignatureError:
        pass


@settings(max_examples=200, deadline=None)
@given(url=st.text(max_size=60), method=st.text(max_size=8))
async def test_garbage_urls_and_methods_raise_only_signature_error(url: str, method: str) -> None:
    for signed in (SIGNED_CAVAGE, SIGNED_RFC9421):
        try:
            await verify(method, url, signed, BODY, AnyKey(), now=NOW)
        except SignatureError:
            pass


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters())
async def test_any_one_character_changed_in_a_signature_header_fails(
    position: int, replacement: Any
) -> None:
    for signed, name in ((SIGNED_CAVAGE, "Signature"), (SIGNED_RFC9421, "Signature-Input")):
        value = signed[name]
        index = position % len(value)
        if value[index] == replacement:
            continue
        changed = mutate(signed, {name: value[:index] + replacement + value[index + 1 :]})
        try:
            key_id = await verify("POST", INBOX, changed, BODY, OnlyTheKey(), now=NOW)
        except SignatureError:
            continue
        # The only edits that may pass leave the signed meaning intact (whitespace between
        # parameters, the unsigned label, the case of a name); the signer stays the same.
        assert key_id == KEY_ID


@settings(max_examples=30, deadline=None)
@given(
    unit=st.sampled_from(["a", " ", 'k=",', 'k="', ',k="', 'a="\\', "a=1", 'k="v" ', "a\t=", ","]),
    end=st.sampled_from(["", "!", '"']),
)
async def test_hostile_signature_header_is_rejected_in_linear_time(unit: str, end: str) -> None:
    # A regex that backtracks quadratically would let one request burn a CPU second.
    value = (unit * (8000 // len(unit)))[:8000] + end
    headers = mutate(SIGNED_CAVAGE, {"Signature": value})
    started = time.perf_counter()
    try:
        await verify("POST", INBOX, headers, BODY, OnlyTheKey(), now=NOW)
    except SignatureError:
        pass
    assert time.perf_counter() - started < 0.5  # linear: ~1 ms; quadratic: seconds
