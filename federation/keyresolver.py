"""Key resolution: key id -> public key and owner actor, with caches, for `signatures.verify`.

    resolver = KeyResolver(fetch)            fetch: the safe client's AS2 fetch(url) -> dict
    key_id = await signatures.verify(method, url, headers, body, resolver)
    actor_uri = resolver.owner_of(key_id)    the actor that owns the key that signed

A key id is either a fragment of its actor (`<actor>#main-key`: the actor document lists it)
or a document of its own whose `owner`/`controller` actor must list it back; otherwise anyone
able to publish a key document could claim any actor. Keys may sit in `publicKey` (an object
or an array of them, `publicKeyPem`) or in FEP-521a `assertionMethod` (Multikey,
`publicKeyMultibase`).

Caching: known keys are kept (bounded LRU) and, when a `store` is given, persisted. A key that
no longer verifies is refetched, at most once per `refetch_interval` per actor, so a rotated
key costs exactly one fetch and a flood of forged signatures costs none. Failed lookups are
remembered for `failure_ttl` seconds. Concurrent lookups of one key (a burst of first
deliveries from a new actor) share one load, fetch and save: the remote server sees one
request, and a waiter that gives up (its client went away) does not cancel the others.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urldefrag, urlsplit

from federation.errors import FederationError, InvalidDocument, SignatureError
from federation.keys import PublicKey, VerificationKey, load_multikey, load_public_key

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


class KeyStore(Protocol):
    """Optional persistence (the database) under the in-memory cache."""

    async def load(self, key_id: str) -> VerificationKey | None: ...

    async def save(self, key: VerificationKey) -> None: ...


class KeyResolver:
    def __init__(
        self,
        fetch: Fetch,
        *,
        store: KeyStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        refetch_interval: float = 60.0,
        failure_ttl: float = 60.0,
        max_keys: int = 10_000,
    ) -> None:
        self._fetch = fetch
        self._store = store
        self._clock = clock
        self._refetch_interval = refetch_interval
        self._failure_ttl = failure_ttl
        self._max_keys = max_keys
        self._keys: OrderedDict[str, VerificationKey] = OrderedDict()
        self._failures: dict[str, tuple[float, str]] = {}
        self._fetched_at: dict[str, float] = {}  # actor uri -> when we last fetched its keys
        self._pending: dict[tuple[str, bool], asyncio.Task[VerificationKey]] = {}

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        """The key for `key_id`; `refresh` refetches it because the cached one did not verify.

        Raises SignatureError when the key cannot be had, or when a refresh is asked for an
        actor refetched less than `refetch_interval` ago.
        """
        cached = self._keys.get(key_id)
        if cached is not None and not refresh:
            self._keys.move_to_end(key_id)
            return cached
        now = self._clock()
        if refresh:
            owner = cached.owner_uri if cached else urldefrag(key_id).url
            last = self._fetched_at.get(owner)
            if last is not None and now - last < self._refetch_interval:
                raise SignatureError(
                    f"the signature does not match the key {key_id}, refetched moments ago"
                )
        else:
            failure = self._failures.get(key_id)
            if failure is not None and now - failure[0] < self._failure_ttl:
                raise SignatureError(f"the key {key_id} could not be had: {failure[1]}")
        # One task per key at a time: a burst of lookups costs one load, one fetch, one save.
        job = (key_id, refresh)
        task = self._pending.get(job)
        if task is None:
            task = asyncio.ensure_future(self._resolve(key_id, refresh, now))
            self._pending[job] = task
            task.add_done_callback(lambda done: self._finished(job, done))
        return await asyncio.shield(task)

    async def _resolve(self, key_id: str, refresh: bool, now: float) -> VerificationKey:
        """The store's key, else the fetched one (stored); one task per key id at a time."""
        if not refresh and self._store is not None:
            stored = await self._store.load(key_id)
            if stored is not None:
                self._remember(stored)
                return stored
        try:
            key = await self._fetch_key(key_id)
        except FederationError as error:
            reason = str(error) or type(error).__name__
            self._failures[key_id] = (now, reason)
            self._forget_old_failures(now)
            raise SignatureError(f"the key {key_id} could not be had: {reason}") from error
        self._failures.pop(key_id, None)
        self._fetched_at[key.owner_uri] = now
        self._remember(key)
        if self._store is not None:
            await self._store.save(key)
        return VerificationKey(key.key_id, key.owner_uri, key.public_key, fresh=True)

    def owner_of(self, key_id: str) -> str:
        """The actor URI owning a key that `lookup` (hence `verify`) has returned."""
        key = self._keys.get(key_id)
        if key is None:
            raise SignatureError(f"the key {key_id} is not known")
        return key.owner_uri

    async def _fetch_key(self, key_id: str) -> VerificationKey:
        url = urldefrag(key_id).url
        if urlsplit(url).scheme not in ("https", "http"):
            raise InvalidDocument(f"the key id {key_id!r} is not an http(s) URL")
        document = await self._fetch(url)
        key_document: dict[str, Any] | None = None
        if "publicKeyPem" in document or "publicKeyMultibase" in document:
            # A key document of its own: its owner actor must list it back.
            if document.get("id") != key_id:
                raise InvalidDocument(f"the key document at {url} has another id")
            owner_uri = _text(document.get("owner") or document.get("controller"))
            if not owner_uri:
                raise InvalidDocument(f"the key document {key_id} names no owner")
            key_document = document
            actor = await self._fetch(owner_uri)
        else:
            actor = document
        actor_uri = _text(actor.get("id"))
        if not actor_uri:
            raise InvalidDocument(f"the actor document for {key_id} has no id")
        listed = _listed(actor, key_id)
        if listed is None:
            raise InvalidDocument(f"the actor {actor_uri} does not list the key {key_id}")
        entry = listed or key_document or {}
        owner = _text(entry.get("owner") or entry.get("controller"))
        if owner and owner != actor_uri:
            raise InvalidDocument(f"the key {key_id} is owned by {owner}, not {actor_uri}")
        return VerificationKey(key_id, actor_uri, _public_key(entry, key_id))

    def _finished(self, job: tuple[str, bool], task: asyncio.Task[VerificationKey]) -> None:
        self._pending.pop(job, None)
        if not task.cancelled():
            task.exception()  # every waiter may have gone: the outcome is not left unread

    def _remember(self, key: VerificationKey) -> None:
        self._keys[key.key_id] = VerificationKey(key.key_id, key.owner_uri, key.public_key)
        self._keys.move_to_end(key.key_id)
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)
        if len(self._fetched_at) > self._max_keys:
            self._fetched_at.clear()  # only a rate limit: forgetting it is safe

    def _forget_old_failures(self, now: float) -> None:
        if len(self._failures) > self._max_keys:
            self._failures = {
                k: v for k, v in self._failures.items() if now - v[0] < self._failure_ttl
            }


def _listed(actor: dict[str, Any], key_id: str) -> dict[str, Any] | None:
    """The actor's entry for `key_id`: {} when listed by reference only, None when absent."""
    for entry in _as_list(actor.get("publicKey")) + _as_list(actor.get("assertionMethod")):
        if entry == key_id:
            return {}
        if isinstance(entry, dict) and entry.get("id") == key_id:
            has_key = "publicKeyPem" in entry or "publicKeyMultibase" in entry
            return entry if has_key else {}
    return None


def _public_key(entry: dict[str, Any], key_id: str) -> PublicKey:
    pem, multibase = entry.get("publicKeyPem"), entry.get("publicKeyMultibase")
    if isinstance(pem, str):
        return load_public_key(pem)
    if isinstance(multibase, str):
        return load_multikey(multibase)
    raise InvalidDocument(f"no public key material found for {key_id}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    # `owner` may be an embedded object in some implementations; only its id counts.
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""
