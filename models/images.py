"""A group's avatar and banner, kept in the database so that a backup holds them too.

What a member uploads is never served: it is decoded with Pillow (its pixel count checked from
the header before any pixel is read, against decompression bombs), turned upright, cropped and
resized to one fixed size, and re-encoded, so no metadata (EXIF, GPS, comments, colour profiles)
of the original survives. The URL holds the new file's SHA-256, so it can be cached for ever.
"""

import enum
import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, undefer

from models.base import Base, UTCDateTime, utcnow
from models.texts import N_

MAX_BYTES = 8 * 1024 * 1024
# 24 megapixels is a phone's photo; more is refused before decoding. Pillow's own guard is set
# to the same number (in `prepare`), so a file that lies in its header is stopped by Pillow too.
MAX_PIXELS = 24_000_000
FORMATS = ["JPEG", "PNG", "WEBP", "GIF"]


class Role(enum.StrEnum):
    AVATAR = "avatar"
    BANNER = "banner"


SIZES = {Role.AVATAR: (400, 400), Role.BANNER: (1500, 500)}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


TOO_LARGE = N_("The image is too large: send one of at most 8 MB.")
TOO_MANY_PIXELS = N_("The image has too many pixels: send one of at most 24 megapixels.")
NOT_AN_IMAGE = N_("That file is not an image we can use: send a JPEG, PNG or WebP.")


class Refused(ValueError):
    """Not an image we take; the message (to translate) is for the person who sent it."""


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("actor_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), index=True)  # SHA-256 of `data`, hex
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def path(self) -> str:
        return f"/images/{self.digest}.{EXTENSIONS.get(self.media_type, 'jpg')}"


@dataclass(frozen=True)
class Prepared:
    data: bytes
    media_type: str
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def prepare(data: bytes, role: Role) -> Prepared:
    """The upload decoded, upright, cropped to the role's size and re-encoded (PNG if it has
    transparency, JPEG otherwise). Refused for anything that is not a JPEG, PNG, WebP or GIF
    image within the limits."""
    # Pillow is loaded by the first upload, not by every process that reads the table (2 MB).
    from PIL import Image as Pillow
    from PIL import ImageOps, UnidentifiedImageError

    Pillow.MAX_IMAGE_PIXELS = MAX_PIXELS
    if len(data) > MAX_BYTES:
        raise Refused(TOO_LARGE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)
        try:
            with Pillow.open(io.BytesIO(data), formats=FORMATS) as opened:
                width, height = opened.size  # from the header: nothing decoded yet
                if width * height > MAX_PIXELS or width < 1 or height < 1:
                    raise Refused(TOO_MANY_PIXELS)
                opened.load()
                upright = ImageOps.exif_transpose(opened)
        except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
            raise Refused(TOO_MANY_PIXELS) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            if isinstance(e, Refused):
                raise
            raise Refused(NOT_AN_IMAGE) from None
    transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    mode = "RGBA" if transparent else "RGB"
    fitted = ImageOps.fit(upright.convert(mode), SIZES[role], Pillow.Resampling.LANCZOS)
    clean = Pillow.new(mode, fitted.size)  # a fresh image: no info, no profile, no EXIF
    clean.paste(fitted)
    out = io.BytesIO()
    if transparent:
        clean.save(out, "PNG", optimize=True)
        media_type = "image/png"
    else:
        clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
        media_type = "image/jpeg"
    return Prepared(out.getvalue(), media_type, clean.width, clean.height)


async def put(session: AsyncSession, actor_id: int, role: Role, prepared: Prepared) -> Image:
    """The actor's image for `role`, replacing the one before."""
    row = await session.scalar(select(Image).where(Image.actor_id == actor_id, Image.role == role))
    if row is None:
        row = Image(actor_id=actor_id, role=str(role))
        session.add(row)
    row.digest, row.media_type, row.data = prepared.digest, prepared.media_type, prepared.data
    row.width, row.height, row.created_at = prepared.width, prepared.height, utcnow()
    await session.flush()
    return row


async def of(session: AsyncSession, actor_id: int) -> dict[str, Image]:
    """The actor's images by role, without their bytes."""
    rows = await session.scalars(select(Image).where(Image.actor_id == actor_id))
    return {row.role: row for row in rows}


async def find(session: AsyncSession, digest: str) -> Image | None:
    """The image with this digest, its bytes loaded."""
    return await session.scalar(
        select(Image).where(Image.digest == digest).options(undefer(Image.data)).limit(1)
    )
