"""One small `on_<type>` function per activity type, registered in `HANDLERS`."""

from collections.abc import Awaitable, Callable
from typing import Any

from federation import vocab
from inbox.handlers.context import Context, Ignored
from inbox.handlers.follows import on_accept, on_block, on_follow, on_move, on_reject, on_undo
from inbox.handlers.objects import on_announce, on_create, on_delete, on_flag, on_like, on_update

Handler = Callable[[Context, dict[str, Any]], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "Follow": on_follow,
    "Undo": on_undo,
    "Accept": on_accept,
    "Reject": on_reject,
    "Create": on_create,
    "Update": on_update,
    "Delete": on_delete,
    "Announce": on_announce,
    "Like": on_like,
    "Flag": on_flag,
    "Block": on_block,
    "Move": on_move,
}

__all__ = ["HANDLERS", "Context", "Ignored", "dispatch"]


async def dispatch(ctx: Context, activity: dict[str, Any]) -> None:
    """Run the handler for the activity's first known type; Ignored when there is none."""
    types = vocab.types_of(activity)
    handler = next((HANDLERS[t] for t in types if t in HANDLERS), None)
    if handler is None:
        raise Ignored(f"unsupported activity type {(types or ['(none)'])[0]}")
    if vocab.id_of(activity.get("actor")) is None:
        raise Ignored("the activity names no actor")
    await handler(ctx, activity)
