"""What one running instance holds: settings, database, the outgoing client, keys.

Built by `create_app(settings)`, never at import time, so two instances can share a process.
It lives below the inbox and the outbox, which both hold one: the engine and sessions are the
models', the client, key resolver, breaker and signers the federation's.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from federation import keys, vocab
from federation.breaker import Breaker
from federation.client import Client
from federation.errors import Refused
from federation.keyresolver import KeyResolver
from federation.sender import Connector, network
from federation.signatures import SchemeMemory, SigningAuth
from models import actors, db, policy, remote, transactions
from models.actors import LocalActor
from models.escrow import Seal
from models.heartbeats import Heartbeats
from models.metrics import Metrics
from models.settings import Settings
from models.uris import Uris


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    uris: Uris
    client: Client
    # What the delivery Sender's connections go through (outbox.worker.sender): the network,
    # or in tests in-process apps, as `mounts` are for the client.
    connector: Connector = network
    # What our requests say they are, fetches and deliveries alike: `Ayni/<version> (+<base>)`.
    user_agent: str = "Ayni"
    key_resolver: KeyResolver = field(init=False)
    # Fetches per remote host: a few at once, none for a while from a host that stops answering.
    breaker: Breaker = field(init=False)
    # Meeting points are sealed with a key derived from the instance's secret key.
    seal: Seal = field(init=False)
    blocklist: policy.Blocklist = field(init=False)
    # Which signature scheme each origin wants: one memory for every signer of this instance,
    # fetches and deliveries alike.
    schemes: SchemeMemory = field(default_factory=SchemeMemory)
    # When this process's queue workers last finished a round (`/healthz`).
    heartbeats: Heartbeats = field(default_factory=Heartbeats)
    # What /metrics serves (a no-op without AYNI_METRICS_TOKEN).
    metrics: Metrics = field(init=False)
    _signers: dict[str, SigningAuth] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key_resolver = KeyResolver(self.fetch, store=remote.KeyStore(self.sessions))
        self.blocklist = policy.Blocklist(self.sessions)
        self.breaker = Breaker(wait=self.settings.fetch_deadline)
        self.seal = Seal(self.settings.secret_key)
        self.metrics = Metrics(on=bool(self.settings.metrics_token))

    @classmethod
    def build(
        cls,
        settings: Settings,
        mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        connector: Connector = network,
        *,
        version: str,
    ) -> "Runtime":
        """`mounts` and `connector` route hosts to in-process apps (tests federating several
        instances): the first for the client's fetches, the second for deliveries. `version` is
        the shell's (`ayni.__version__`), for the User-Agent."""
        engine = db.create_engine(settings.database_url)
        user_agent = f"Ayni/{version} (+{settings.base_url})"
        client = Client(
            user_agent,
            allow_private=settings.allow_private_addresses,
            mounts=mounts,
            deadline=settings.fetch_deadline,
        )
        return cls(
            settings,
            engine,
            db.sessionmaker(engine),
            Uris(settings.base_url),
            client,
            connector,
            user_agent,
        )

    async def close(self) -> None:
        await self.client.aclose()
        await self.engine.dispose()

    def actor_uri(self, actor: LocalActor) -> str:
        if actor.type == actors.ActorType.APPLICATION:
            return self.uris.instance_actor()
        return self.uris.actor(actor.username)

    def signer(self, actor: LocalActor, speaker: str | None = None) -> SigningAuth:
        """The actor's request signer; the private key is parsed once and kept. For what a group
        says as its companion Service (`speaker`), the same key under the Service's key id."""
        actor_uri = self.actor_uri(actor)
        key_id = self.uris.key(speaker if speaker == self.uris.service(actor_uri) else actor_uri)
        auth = self._signers.get(key_id)
        if auth is None:
            private_key = keys.load_private_key(actor.key.private_key_pem)
            auth = SigningAuth(keys.SigningKey(key_id, private_key), schemes=self.schemes)
            self._signers[key_id] = auth
        return auth

    async def instance_signer(self) -> SigningAuth:
        key_id = self.uris.key(self.uris.instance_actor())
        auth = self._signers.get(key_id)
        if auth is None:
            async with self.sessions() as session:
                auth = self.signer(await actors.instance_actor(session))
        return auth

    async def fetch(self, url: str) -> dict[str, Any]:
        """An AS2 document, fetched with a signature by the instance actor (authorized fetch).
        Nothing is ever fetched from a blocked domain, nor from a host in backoff (`breaker`), nor
        while this task holds a transaction (NetworkInTransaction): every fetch, inbound or
        outbound, comes through here."""
        await self._may_fetch(url)
        auth = await self.instance_signer()
        return await self.breaker.call(url, lambda: self.client.fetch(url, auth=auth))

    async def fetch_json(self, url: str, accept: str) -> dict[str, Any]:
        """A public JSON document that is not AS2 (another server's taxonomy, in JSON-LD),
        unsigned, under the same guards as `fetch`."""
        await self._may_fetch(url)
        return await self.breaker.call(url, lambda: self.client.get_json(url, accept))

    async def _may_fetch(self, url: str) -> None:
        transactions.outside_transaction(f"fetching {url}")
        if await self.blocklist.blocks(vocab.host_of(url)):
            raise Refused(f"{vocab.host_of(url)} is a blocked domain", url=url)
