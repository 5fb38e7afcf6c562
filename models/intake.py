"""Intake: an ask a moderator posts for someone without an account or a smartphone. Her name
and contact are a private note, sealed like a meeting point, for the group's moderators only:
never federated, never on a page for members, deleted with the item."""

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class IntakeNote(Base):
    __tablename__ = "intake_notes"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[str] = mapped_column(Text)  # models.escrow.Seal, bound to the item's uri
