"""Remote actor documents: what we take from them, and what we refuse."""

import pytest

from federation.errors import InvalidDocument
from federation.remote_actor import actor_from_ap


def test_an_actor_document_gives_its_inboxes_and_aliases() -> None:
    actor = actor_from_ap(
        {
            "id": "https://m.example/users/a",
            "type": ["Person"],
            "preferredUsername": "a",
            "name": "A",
            "inbox": "https://m.example/users/a/inbox",
            "endpoints": {"sharedInbox": "https://m.example/inbox"},
            "followers": "https://m.example/users/a/followers",
            "alsoKnownAs": ["https://old.example/users/a"],
        }
    )
    assert (actor.host, actor.inbox_uri, actor.shared_inbox_uri) == (
        "m.example",
        "https://m.example/users/a/inbox",
        "https://m.example/inbox",
    )
    assert actor.also_known_as == ["https://old.example/users/a"]


@pytest.mark.parametrize(
    "document",
    [
        {"id": "https://m.example/notes/1", "type": "Note", "inbox": "https://m.example/inbox"},
        {"id": "https://m.example/users/a", "type": "Person"},
        {
            "id": "https://m.example/users/a",
            "type": "Person",
            "inbox": "https://elsewhere.example/inbox",
        },
        {"type": "Person", "inbox": "https://m.example/inbox"},
    ],
)
def test_documents_that_are_not_usable_actors_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(InvalidDocument):
        actor_from_ap(document)
