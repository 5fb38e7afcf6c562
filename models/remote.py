"""The cache of remote actors and their public keys, fetched through the safe client."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from federation import keys, vocab
from federation.keys import VerificationKey
from models.base import Base, UTCDateTime, upsert, utcnow


class RemoteActor(Base):
    __tablename__ = "remote_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(32), default="Person")
    host: Mapped[str] = mapped_column(String(255), index=True)
    username: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    inbox_uri: Mapped[str] = mapped_column(String(2048))
    shared_inbox_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    followers_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)
    # A group's service area as its actor publishes it (`location`), coarsened.
    area_latitude: Mapped[float | None] = mapped_column(Float, default=None)
    area_longitude: Mapped[float | None] = mapped_column(Float, default=None)
    area_radius_km: Mapped[float | None] = mapped_column(Float, default=None)


class RemoteKey(Base):
    __tablename__ = "remote_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_uri: Mapped[str] = mapped_column(String(2048), unique=True)
    actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    public_key_pem: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyStore:
    """The database under the key resolver's memory: keys survive restarts."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def load(self, key_id: str) -> VerificationKey | None:
        async with self._sessions() as session:
            row = await session.execute(
                select(RemoteKey.public_key_pem, RemoteActor.uri)
                .join(RemoteActor, RemoteActor.id == RemoteKey.actor_id)
                .where(RemoteKey.key_uri == key_id, RemoteActor.gone.is_(False))
            )
            found = row.first()
        if found is None:
            return None
        return VerificationKey(key_id, found.uri, keys.load_public_key(found.public_key_pem))

    async def save(self, key: VerificationKey) -> None:
        """Store a fetched key; another request or process may be storing it at the same moment."""
        pem = keys.public_key_to_pem(key.public_key)
        async with self._sessions() as session, session.begin():
            # Known only by its key so far; the inbox fills in the rest when it fetches it.
            placeholder = {
                "uri": key.owner_uri,
                "host": vocab.host_of(key.owner_uri) or "",
                "inbox_uri": "",
                "document": {},
                "fetched_at": datetime.fromtimestamp(0, UTC),
            }
            actor_id = await upsert(session, RemoteActor, placeholder, key="uri")
            if actor_id is None:  # known already: kept as it is
                actor_id = await session.scalar(
                    select(RemoteActor.id).where(RemoteActor.uri == key.owner_uri)
                )
            stored = {
                "key_uri": key.key_id,
                "actor_id": actor_id,
                "public_key_pem": pem,
                "fetched_at": utcnow(),
            }
            await upsert(
                session,
                RemoteKey,
                stored,
                key="key_uri",
                update=("actor_id", "public_key_pem", "fetched_at"),
            )
