"""Flag: another server reports one of ours to its moderators."""

import hashlib
from typing import Any

from federation import sanitize, vocab
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    clean,
    local_owner,
    short,
)
from models import alerts, inbound
from models.content import RemoteObjectKind
from models.group_moderation import blocked_by


async def on_flag(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    targets = [uri for uri in vocab.ids_of(activity.get("object")) if ctx.is_local(uri)]
    if not targets:
        raise Ignored("Flag of nothing on this server")
    reporter = await ctx.actor(actor_uri)
    report_uri = (
        short(vocab.id_of(activity))
        or f"{actor_uri}#flag-" + hashlib.sha256(" ".join(targets).encode()).hexdigest()
    )
    async with ctx.transaction() as session:
        local = None
        for uri in targets:
            local = await local_owner(ctx, session, uri)
            if local is not None:
                break
        if local is None:
            raise Ignored("Flag of nothing that belongs to a group or member here")
        # A blocked actor must not be able to flood the moderators it was blocked by.
        if await blocked_by(session, [local.id], reporter):
            raise Ignored(f"{actor_uri} is blocked by the group it reports to")
        content = activity.get("content")
        stored = await inbound.store_object(
            session,
            uri=report_uri,
            type="Flag",
            kind=RemoteObjectKind.REPORT,
            remote=reporter,
            local_actor_id=local.id,
            in_reply_to_uri=None,
            content_html=sanitize.sanitize_html(content) if isinstance(content, str) else "",
            public=False,
            document=clean(activity),
        )
        if stored is None:
            raise Ignored(f"report {report_uri} is stored already")
        await alerts.reported(session, local, targets)
