"""A sending instance wired to a `Receiver` for every other host, with a clock the tests drive."""

import contextlib
import ipaddress
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette

from ayni.app import create_app
from federation import keys
from federation.keys import VerificationKey
from federation.visibility import Visibility
from models import actors
from models.actors import LocalActor
from models.follows import Direction, Follow, FollowState
from models.publish import publish
from models.remote import RemoteActor
from models.runtime import Runtime
from models.settings import Settings
from outbox.worker import DeliveryWorker, Limits, sender
from tests.instances import InProcess, seed
from tests.receiver import Receiver, StaticKeys

BASE_URL = "http://127.0.0.1:8101"
LOOPBACK_NET = (ipaddress.ip_network("127.0.0.0/8"),)


@dataclass
class Clock:
    moment: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(seconds=1))

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass
class Sender:
    app: Starlette
    runtime: Runtime
    receiver: Receiver
    worker: DeliveryWorker
    clock: Clock

    async def group(self) -> LocalActor:
        async with self.runtime.sessions() as session:
            found = await actors.find_actor(session, "food")
            assert found is not None
            return found

    async def add_follower(self, host: str, name: str, shared: bool = True) -> str:
        uri = f"http://{host}/users/{name}"
        async with self.runtime.sessions() as session, session.begin():
            group = await actors.find_actor(session, "food")
            assert group is not None
            remote = RemoteActor(
                uri=uri,
                host=host,
                username=name,
                inbox_uri=f"{uri}/inbox",
                shared_inbox_uri=f"http://{host}/inbox" if shared else None,
            )
            session.add(remote)
            await session.flush()
            session.add(
                Follow(
                    activity_uri=f"{uri}#follow",
                    direction=Direction.INBOUND,
                    local_actor_id=group.id,
                    remote_actor_id=remote.id,
                    state=FollowState.ACCEPTED,
                )
            )
        return uri

    async def followers(self) -> list[str]:
        async with self.runtime.sessions() as session:
            rows = await session.scalars(
                select(RemoteActor.uri).join(Follow, Follow.remote_actor_id == RemoteActor.id)
            )
            return list(rows)

    async def publish_note(
        self, visibility: Visibility = Visibility.PUBLIC, to_actors: list[str] | None = None
    ) -> dict[str, Any]:
        group = await self.group()
        actor_uri = self.runtime.uris.actor("food")
        note_id = self.runtime.uris.object(str(uuid.uuid4()))
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.runtime.uris.activity(str(uuid.uuid4())),
            "type": "Create",
            "actor": actor_uri,
            "object": {
                "id": note_id,
                "type": "Note",
                "attributedTo": actor_uri,
                "content": "Soup at 6",
            },
        }
        async with self.runtime.sessions() as session, session.begin():
            await publish(
                session,
                group,
                activity,
                visibility,
                followers=visibility in (Visibility.PUBLIC, Visibility.FOLLOWERS),
                to_actors=to_actors,
            )
        # Its fan-out job is due at the real moment it was published: the worker's clock must
        # not be behind it (a slow setup on a loaded machine once left it so, and nothing went).
        self.clock.moment = max(self.clock.moment, datetime.now(UTC) + timedelta(seconds=1))
        return activity

    async def drain(self, passes: int = 10) -> None:
        for _ in range(passes):
            if not await self.worker.run_once():
                return


@contextlib.asynccontextmanager
async def start_sender(
    database_url: str, *, deadline: float | None = None, metrics_token: str = ""
) -> AsyncIterator[Sender]:
    receiver = Receiver(StaticKeys())
    settings = Settings(
        base_url=BASE_URL,
        database_url=database_url,
        secret_key="test",
        allow_private_addresses=LOOPBACK_NET,
        metrics_token=metrics_token,
    )
    app = create_app(settings, mounts={"all://": receiver}, connector=InProcess(receiver))
    runtime: Runtime = app.state.runtime
    await seed(runtime)
    async with runtime.sessions() as session:
        for actor in (await session.scalars(select(LocalActor))).all():
            key_id = runtime.uris.key(runtime.actor_uri(actor))
            public = keys.load_public_key(actor.key.public_key_pem)
            assert isinstance(receiver.keys, StaticKeys)
            receiver.keys.keys[key_id] = VerificationKey(key_id, runtime.actor_uri(actor), public)
    clock = Clock()
    options = {} if deadline is None else {"deadline": deadline}
    try:
        async with sender(runtime, **options) as posts:  # the production road, to the receiver
            worker = DeliveryWorker(
                runtime,
                now=clock.now,
                random_unit=lambda: 0.5,
                limits=Limits(per_host=4),
                sender=posts,
            )
            yield Sender(app, runtime, receiver, worker, clock)
    finally:
        await runtime.close()
