"""Like: answered and not recorded (see docs/architecture.md, "Privacy decisions")."""

from typing import Any

from inbox.handlers.context import Context, Ignored


async def on_like(ctx: Context, activity: dict[str, Any]) -> None:
    raise Ignored("likes are not recorded")
