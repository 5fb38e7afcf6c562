"""Intake: an ask a moderator posts for someone without an account or a smartphone. Her name
and contact are a private note, sealed like a meeting point, for the group's moderators only:
never federated, never on a page for members, deleted with the item."""

import json
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Text
from sqlalchemy import delete as sa_delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.escrow import Seal
from models.items import Item


class IntakeNote(Base):
    __tablename__ = "intake_notes"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[str] = mapped_column(Text)  # models.escrow.Seal, bound to the item's uri


MAX_NAME = 200
MAX_CONTACT = 500


@dataclass(frozen=True)
class Requester:
    """Who an intake ask is for, and how the group reaches her (a phone, a neighbour, a shelter)."""

    name: str
    contact: str


def requester(name: str | None, contact: str | None) -> Requester | None:
    """The requester a form or the command line describes; None when both are empty."""
    name, contact = " ".join((name or "").split()), (contact or "").strip()
    if not name and not contact:
        return None
    if not name:
        raise ValueError("an ask on someone's behalf names who it is for")
    if len(name) > MAX_NAME or len(contact) > MAX_CONTACT:
        raise ValueError(
            f"a requester's name has at most {MAX_NAME} characters, her contact {MAX_CONTACT}"
        )
    return Requester(name, contact)


async def store(session: AsyncSession, seal: Seal, item: Item, who: Requester) -> None:
    """Seal the note, bound to the item (a sealed note cannot be moved to another item)."""
    sealed = seal.seal(item.uri, json.dumps({"name": who.name, "contact": who.contact}))
    row = await session.get(IntakeNote, item.id)
    if row is None:
        session.add(IntakeNote(item_id=item.id, sealed=sealed))
    else:
        row.sealed = sealed
    await session.flush()


async def read(session: AsyncSession, seal: Seal, item: Item) -> Requester | None:
    """The note, for the group's moderators: the caller checks the role."""
    row = await session.get(IntakeNote, item.id)
    text = seal.open(item.uri, row.sealed) if row is not None else None
    if text is None:
        return None
    value = json.loads(text)
    return Requester(str(value.get("name", "")), str(value.get("contact", "")))


async def delete(session: AsyncSession, item: Item) -> None:
    """Forget the note now (the database also drops it with its item)."""
    await session.execute(sa_delete(IntakeNote).where(IntakeNote.item_id == item.id))
