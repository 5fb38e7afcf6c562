"""A local actor's profile as it federates: its document's values, and the `Update` that tells
its followers' servers when it changes (a new avatar, banner or service area), as Mastodon does,
so that they need not wait for their cached copy to expire."""

from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from federation import actors as ap
from federation import sanitize, vocab
from federation.visibility import Visibility
from models import group_settings, images
from models.actors import ActorType, LocalActor
from models.publish import publish
from models.runtime import Runtime


def actor_values(
    runtime: Runtime, actor: LocalActor, pictures: dict[str, images.Image] | None = None
) -> ap.ActorValues:
    """The actor's document as values; `pictures` (`models.images.of`) adds its avatar and
    banner, described by its name."""
    uris = runtime.uris
    shown = {
        role: ap.Picture(
            runtime.settings.base_url + found.path, found.media_type, actor.name or actor.username
        )
        for role, found in (pictures or {}).items()
    }
    is_instance = actor.type == ActorType.APPLICATION
    uri = uris.instance_actor() if is_instance else uris.actor(actor.username)
    return ap.ActorValues(
        uri=uri,
        type=actor.type,
        username=actor.username,
        name=actor.name,
        summary_html=sanitize.sanitize_html(f"<p>{_escape(actor.summary)}</p>")
        if actor.summary
        else "",
        profile_url=runtime.settings.base_url if is_instance else uris.profile(actor.username),
        inbox_uri=uris.inbox(uri),
        outbox_uri=uris.outbox(uri),
        followers_uri=uris.followers(uri),
        following_uri=uris.following(uri),
        featured_uri=uris.featured(uri),
        shared_inbox_uri=uris.shared_inbox(),
        public_key_pem=actor.key.public_key_pem,
        manually_approves_followers=actor.manually_approves_followers,
        published=actor.created_at,
        icon=shown.get(images.Role.AVATAR),
        image=shown.get(images.Role.BANNER),
        area=group_settings.area_of(actor),
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def pictured(session: AsyncSession, runtime: Runtime, actor: LocalActor) -> ap.ActorValues:
    """The actor's values with its avatar and banner, for its document and its page."""
    return actor_values(runtime, actor, await images.of(session, actor.id))


async def announce(session: AsyncSession, runtime: Runtime, actor: LocalActor) -> None:
    """Publish `Update{actor}` to its followers, in the caller's transaction. The instance actor
    has no followers to tell."""
    if actor.type == ActorType.APPLICATION:
        return
    values = await pictured(session, runtime, actor)
    document = ap.actor_to_ap(values)
    update = {
        "@context": document.pop("@context"),
        "id": runtime.uris.activity(uuid4().hex),
        "type": "Update",
        "actor": values.uri,
        "to": [vocab.PUBLIC],
        "cc": [values.followers_uri],
        "object": document,
    }
    await publish(session, actor, update, Visibility.PUBLIC, followers=True)
