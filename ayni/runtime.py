"""What one running instance holds: its settings, database and URI scheme.

Built by `create_app(settings)`, never at import time, so two instances can share a process.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ayni.settings import Settings
from models import db
from models.uris import Uris


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    uris: Uris

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        engine = db.create_engine(settings.database_url)
        return cls(settings, engine, db.sessionmaker(engine), Uris(settings.base_url))
