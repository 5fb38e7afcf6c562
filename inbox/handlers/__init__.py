"""One small `on_<type>` function per activity type, one file per family (follow.py holds
Follow and its answers; attendance.py holds Join, Leave and the answers to a call, and routes
Accept, Reject and Undo to follow.py when they are about a follow), registered in `HANDLERS`,
the one dispatch table."""

from collections.abc import Awaitable, Callable
from typing import Any

from federation import vocab
from inbox.handlers import attendance
from inbox.handlers.announce import on_announce
from inbox.handlers.block import on_block
from inbox.handlers.context import Context, Ignored
from inbox.handlers.create import on_create
from inbox.handlers.delete import on_delete
from inbox.handlers.flag import on_flag
from inbox.handlers.follow import on_follow
from inbox.handlers.like import on_like
from inbox.handlers.move import on_move
from inbox.handlers.quote import on_quote_request
from inbox.handlers.update import on_update

Handler = Callable[[Context, dict[str, Any]], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "Follow": on_follow,
    "Undo": attendance.on_undo,
    "Accept": attendance.on_accept,
    "Reject": attendance.on_reject,
    "TentativeAccept": attendance.on_tentative_accept,
    "Join": attendance.on_join,
    "Leave": attendance.on_leave,
    "Invite": attendance.on_invite,
    "Create": on_create,
    "Update": on_update,
    "Delete": on_delete,
    "Announce": on_announce,
    "Like": on_like,
    "EmojiReact": on_like,
    "Flag": on_flag,
    "Block": on_block,
    "Move": on_move,
    "QuoteRequest": on_quote_request,
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
