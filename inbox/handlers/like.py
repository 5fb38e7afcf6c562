"""Like, and the emoji reactions of Misskey, Sharkey, Iceshrimp, Pleroma and Akkoma (`EmojiReact`,
or a `Like` with `content` or `_misskey_reaction`): answered and not recorded (see
docs/architecture.md, "Privacy decisions")."""

from typing import Any

from inbox.handlers.context import Context, Ignored


async def on_like(ctx: Context, activity: dict[str, Any]) -> None:
    raise Ignored("likes and reactions are not recorded")
