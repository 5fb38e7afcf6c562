"""Key resolution: where keys come from, who owns them, rotation, and what is cached."""

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import keys
from federation.cavage import sign_cavage
from federation.errors import FetchError, NotFound, Refused, SignatureError, Unavailable
from federation.keyresolver import KeyResolver
from federation.keys import SigningKey, VerificationKey
from federation.rfc9421 import sign_rfc9421
from federation.signatures import verify

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ACTOR = "https://remote.example/users/alice"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://ayni.example/inbox"
BODY = b'{"type": "Create"}'
T = TypeVar("T")


@pytest.fixture(scope="module")
def old_key() -> Any:
    return keys.generate_private_key()


@pytest.fixture(scope="module")
def new_key() -> Any:
    return keys.generate_private_key()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Web:
    """Remote documents by URL, counting fetches; a URL may instead raise an error."""

    def __init__(self, documents: dict[str, Any] | None = None) -> None:
        self.documents: dict[str, Any] = documents or {}
        self.fetched: list[str] = []

    async def fetch(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        document = self.documents.get(url)
        if isinstance(document, Exception):
            raise document
        if document is None:
            raise NotFound("404", url=url, status=404)
        return dict(document)


def actor(public_key: Any, *, key_id: str = KEY_ID, owner: str = ACTOR) -> dict[str, Any]:
    return {
        "id": ACTOR,
        "type": "Person",
        "publicKey": {
            "id": key_id,
            "owner": owner,
            "publicKeyPem": keys.public_key_to_pem(public_key),
        },
    }


async def signed_post_verifies(
    private_key: Any, resolver: KeyResolver, key_id: str = KEY_ID
) -> str:
    headers = sign_cavage("POST", INBOX, SigningKey(key_id, private_key), BODY, now=NOW)
    return await verify("POST", INBOX, headers, BODY, resolver, now=NOW)


# Where keys come from ------------------------------------------------------------------


async def test_fragment_key_id_is_found_in_its_actor_document(old_key: Any) -> None:
    web = Web({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch)
    key = await resolver.lookup(KEY_ID)
    assert (key.key_id, key.owner_uri, key.fresh) == (KEY_ID, ACTOR, True)
    assert web.fetched == [ACTOR]  # the URL without its fragment


async def test_public_key_may_be_an_array(old_key: Any, new_key: Any) -> None:
    document = actor(old_key)
    document["publicKey"] = [
        {"id": f"{ACTOR}#other", "owner": ACTOR, "publicKeyPem": "not even a PEM"},
        {"id": KEY_ID, "owner": ACTOR, "publicKeyPem": keys.public_key_to_pem(new_key)},
    ]
    resolver = KeyResolver(Web({ACTOR: document}).fetch)
    assert await signed_post_verifies(new_key, resolver) == KEY_ID


async def test_fep_521a_multikey_in_assertion_method_is_accepted() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key_id = f"{ACTOR}#ed25519-key"
    document = {
        "id": ACTOR,
        "type": "Person",
        "assertionMethod": [
            {
                "id": key_id,
                "type": "Multikey",
                "controller": ACTOR,
                "publicKeyMultibase": keys.public_key_to_multikey(private),
            }
        ],
    }
    resolver = KeyResolver(Web({ACTOR: document}).fetch)
    headers = sign_rfc9421("POST", INBOX, SigningKey(key_id, private), BODY, now=NOW)
    assert await verify("POST", INBOX, headers, BODY, resolver, now=NOW) == key_id
    assert resolver.owner_of(key_id) == ACTOR


async def test_key_document_whose_owner_lists_it_is_accepted(old_key: Any) -> None:
    key_id = "https://remote.example/keys/1"
    key_document = {"id": key_id, "owner": ACTOR, "publicKeyPem": keys.public_key_to_pem(old_key)}
    owner = {"id": ACTOR, "type": "Person", "publicKey": key_id}
    web = Web({key_id: key_document, ACTOR: owner})
    resolver = KeyResolver(web.fetch)
    assert await signed_post_verifies(old_key, resolver, key_id) == key_id
    assert resolver.owner_of(key_id) == ACTOR
    assert web.fetched == [key_id, ACTOR]


async def test_key_document_whose_owner_does_not_list_it_is_rejected(old_key: Any) -> None:
    # Anyone can publish a key document naming a victim as owner; the victim must list it.
    key_id = "https://evil.example/keys/1"
    key_document = {"id": key_id, "owner": ACTOR, "publicKeyPem": keys.public_key_to_pem(old_key)}
    victim = actor(keys.generate_private_key())
    resolver = KeyResolver(Web({key_id: key_document, ACTOR: victim}).fetch)
    with pytest.raises(SignatureError, match="does not list the key"):
        await signed_post_verifies(old_key, resolver, key_id)


async def test_key_whose_declared_owner_is_another_actor_is_rejected(old_key: Any) -> None:
    document = actor(old_key, owner="https://remote.example/users/mallory")
    resolver = KeyResolver(Web({ACTOR: document}).fetch)
    with pytest.raises(SignatureError, match="owned by"):
        await signed_post_verifies(old_key, resolver)


async def test_actor_not_listing_the_key_id_is_rejected(old_key: Any) -> None:
    resolver = KeyResolver(Web({ACTOR: actor(old_key, key_id=f"{ACTOR}#other-key")}).fetch)
    with pytest.raises(SignatureError, match="does not list"):
        await signed_post_verifies(old_key, resolver)


@pytest.mark.parametrize(
    "error",
    [
        NotFound("404", url=ACTOR, status=404),
        Unavailable("timed out", url=ACTOR),
        Refused("private address 10.0.0.1", url=ACTOR),
    ],
    ids=["404", "timeout", "private-address"],
)
async def test_key_fetch_failure_becomes_signature_error(old_key: Any, error: FetchError) -> None:
    resolver = KeyResolver(Web({ACTOR: error}).fetch)
    with pytest.raises(SignatureError, match="could not be had"):
        await signed_post_verifies(old_key, resolver)


async def test_key_id_that_is_not_an_http_url_is_never_fetched(old_key: Any) -> None:
    web = Web()
    resolver = KeyResolver(web.fetch)
    with pytest.raises(SignatureError):
        await signed_post_verifies(old_key, resolver, "file:///etc/passwd#main-key")
    assert web.fetched == []


async def test_unusable_public_key_pem_is_a_signature_error(old_key: Any) -> None:
    document = actor(old_key)
    document["publicKey"]["publicKeyPem"] = (
        "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"
    )
    resolver = KeyResolver(Web({ACTOR: document}).fetch)
    with pytest.raises(SignatureError, match="not a PEM"):
        await signed_post_verifies(old_key, resolver)


# Caching and rotation ------------------------------------------------------------------


async def test_known_key_is_not_fetched_again(old_key: Any) -> None:
    web = Web({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch)
    await signed_post_verifies(old_key, resolver)
    await signed_post_verifies(old_key, resolver)
    assert web.fetched == [ACTOR]


async def test_rotated_key_verifies_after_exactly_one_refetch(old_key: Any, new_key: Any) -> None:
    # Given a resolver that knows the actor's old key, long enough ago
    clock = Clock()
    web = Web({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch, clock=clock)
    await signed_post_verifies(old_key, resolver)
    clock.now += 3600
    # When the actor rotates its key and signs with the new one
    web.documents[ACTOR] = actor(new_key)
    key_id = await signed_post_verifies(new_key, resolver)
    # Then the request verifies after exactly one refetch
    assert key_id == KEY_ID
    assert web.fetched == [ACTOR, ACTOR]


async def test_bad_signatures_after_a_refetch_do_not_refetch_again(
    old_key: Any, new_key: Any
) -> None:
    clock = Clock()
    web = Web({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch, clock=clock)
    await signed_post_verifies(old_key, resolver)
    clock.now += 3600
    web.documents[ACTOR] = actor(new_key)
    await signed_post_verifies(new_key, resolver)
    # A forged request within the rate-limit window costs no fetch
    clock.now += 30
    forger = keys.generate_private_key()
    with pytest.raises(SignatureError, match="does not match"):
        await signed_post_verifies(forger, resolver)
    with pytest.raises(SignatureError, match="does not match"):
        await signed_post_verifies(forger, resolver)
    assert web.fetched == [ACTOR, ACTOR]
    # After the window, one more refetch is allowed again
    clock.now += 61
    with pytest.raises(SignatureError, match="does not match"):
        await signed_post_verifies(forger, resolver)
    assert web.fetched == [ACTOR, ACTOR, ACTOR]


async def test_key_just_fetched_is_not_refetched_when_signature_fails(old_key: Any) -> None:
    web = Web({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch)
    with pytest.raises(SignatureError, match="does not match"):
        await signed_post_verifies(keys.generate_private_key(), resolver)
    assert web.fetched == [ACTOR]


async def test_failed_lookup_is_cached_for_a_while(old_key: Any) -> None:
    clock = Clock()
    web = Web({ACTOR: NotFound("404", url=ACTOR, status=404)})
    resolver = KeyResolver(web.fetch, clock=clock, failure_ttl=60)
    for _ in range(3):
        with pytest.raises(SignatureError):
            await resolver.lookup(KEY_ID)
    assert web.fetched == [ACTOR]
    # Once the failure has expired the key is looked up again (and now it exists)
    clock.now += 61
    web.documents[ACTOR] = actor(old_key)
    assert (await resolver.lookup(KEY_ID)).owner_uri == ACTOR
    assert web.fetched == [ACTOR, ACTOR]


async def test_owner_of_an_unknown_key_is_a_signature_error() -> None:
    with pytest.raises(SignatureError):
        KeyResolver(Web().fetch).owner_of(KEY_ID)


class MemoryStore:
    def __init__(self) -> None:
        self.keys: dict[str, VerificationKey] = {}

    async def load(self, key_id: str) -> VerificationKey | None:
        return self.keys.get(key_id)

    async def save(self, key: VerificationKey) -> None:
        self.keys[key.key_id] = key


async def test_store_keeps_keys_across_resolvers(old_key: Any) -> None:
    store = MemoryStore()
    web = Web({ACTOR: actor(old_key)})
    await signed_post_verifies(old_key, KeyResolver(web.fetch, store=store))
    # A new process (a new resolver) finds the key in the store, not on the network
    assert await signed_post_verifies(old_key, KeyResolver(web.fetch, store=store)) == KEY_ID
    assert web.fetched == [ACTOR]


# Concurrent lookups --------------------------------------------------------------------


class SlowWeb(Web):
    """Answers only once `opened` is set, so that lookups pile up behind the first fetch."""

    def __init__(self, documents: dict[str, Any]) -> None:
        super().__init__(documents)
        self.opened = asyncio.Event()

    async def fetch(self, url: str) -> dict[str, Any]:
        await self.opened.wait()
        return await super().fetch(url)


async def started(*lookups: Awaitable[T]) -> list[asyncio.Task[T]]:
    tasks = [asyncio.ensure_future(lookup) for lookup in lookups]
    for _ in range(10):  # let every lookup run up to where it waits
        await asyncio.sleep(0)
    return tasks


async def test_twenty_lookups_of_a_new_key_at_once_share_one_fetch_and_one_save(
    old_key: Any,
) -> None:
    web, store = SlowWeb({ACTOR: actor(old_key)}), CountingStore()
    resolver = KeyResolver(web.fetch, store=store)
    lookups = await started(*(signed_post_verifies(old_key, resolver) for _ in range(20)))
    web.opened.set()
    assert await asyncio.gather(*lookups) == [KEY_ID] * 20
    assert (web.fetched, store.loads, store.saves) == ([ACTOR], 1, 1)


async def test_a_rotated_key_refetched_by_twenty_requests_at_once_is_fetched_once(
    old_key: Any, new_key: Any
) -> None:
    clock = Clock()
    web = SlowWeb({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch, clock=clock)
    web.opened.set()
    await signed_post_verifies(old_key, resolver)
    clock.now += 3600
    web.documents[ACTOR], web.opened = actor(new_key), asyncio.Event()
    lookups = await started(*(signed_post_verifies(new_key, resolver) for _ in range(20)))
    web.opened.set()
    assert await asyncio.gather(*lookups) == [KEY_ID] * 20
    assert web.fetched == [ACTOR, ACTOR]


async def test_a_waiter_that_gives_up_does_not_cancel_the_shared_lookup(old_key: Any) -> None:
    web = SlowWeb({ACTOR: actor(old_key)})
    resolver = KeyResolver(web.fetch)
    first, second = await started(resolver.lookup(KEY_ID), resolver.lookup(KEY_ID))
    first.cancel()  # its request went away
    web.opened.set()
    assert (await second).owner_uri == ACTOR
    assert first.cancelled()
    assert web.fetched == [ACTOR]


async def test_a_shared_lookup_that_fails_fails_every_waiter_and_is_remembered() -> None:
    web = SlowWeb({ACTOR: NotFound("404", url=ACTOR, status=404)})
    resolver = KeyResolver(web.fetch)
    lookups = await started(*(resolver.lookup(KEY_ID) for _ in range(5)))
    web.opened.set()
    outcomes = await asyncio.gather(*lookups, return_exceptions=True)
    assert all(isinstance(outcome, SignatureError) for outcome in outcomes)
    with pytest.raises(SignatureError, match="could not be had"):
        await resolver.lookup(KEY_ID)
    assert web.fetched == [ACTOR]


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = self.saves = 0

    async def load(self, key_id: str) -> VerificationKey | None:
        self.loads += 1
        await asyncio.sleep(0)
        return await super().load(key_id)

    async def save(self, key: VerificationKey) -> None:
        self.saves += 1
        await super().save(key)
