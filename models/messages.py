"""Direct messages from a group to one remote person, and taking one back.

A DM carries a `Mention` of its recipient: without it Mastodon files the message silently. It
is sent from the group, never from the member who wrote it.
"""

from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.items import item_tombstone
from federation.visibility import Visibility
from models.actors import LocalActor
from models.base import utcnow
from models.publish import publish
from models.remote import RemoteActor
from models.uris import Uris


def handle_of(actor: RemoteActor) -> str:
    return f"@{actor.username}@{actor.host}" if actor.username else actor.uri


async def direct_message(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    recipient: RemoteActor,
    content_html: str,
    *,
    in_reply_to: str | None = None,
    speaker: str | None = None,
) -> dict[str, Any]:
    """Create{Note} from the group to the recipient alone; the Create is returned. `speaker`:
    the group's companion Service instead (for Lemmy, whose private messages never come from
    or go to a Group); it is signed with the group's key, which the Service shares."""
    group_uri = speaker or uris.actor(group.username)
    note = {
        "id": uris.object(uuid4().hex),
        "type": "Note",
        "attributedTo": group_uri,
        "to": [recipient.uri],
        "cc": [],
        "inReplyTo": in_reply_to,
        "published": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content": content_html,
        "tag": [{"type": "Mention", "href": recipient.uri, "name": handle_of(recipient)}],
    }
    create = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Create",
        "actor": group_uri,
        "to": [recipient.uri],
        "cc": [],
        "object": note,
    }
    await publish(session, group, create, Visibility.DIRECT, to_actors=[recipient.uri])
    return create


async def delete_message(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    recipient_uri: str,
    note_uri: str,
    speaker: str | None = None,
) -> None:
    """Delete{Tombstone} of a DM, to its recipient, from whoever sent it (`speaker`: as in
    `direct_message`); the Note answers 410 from then on."""
    group_uri = speaker or uris.actor(group.username)
    tombstone = item_tombstone(note_uri, utcnow())
    tombstone.pop("@context")
    delete = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Delete",
        "actor": group_uri,
        "to": [recipient_uri],
        "cc": [],
        "object": tombstone,
    }
    await publish(session, group, delete, Visibility.DIRECT, to_actors=[recipient_uri])
