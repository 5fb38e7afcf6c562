"""Pure pieces of the inbox: domain blocks, actor documents (its retry timing: test_retry.py)."""

import pytest

from federation.errors import InvalidDocument
from federation.remote_actor import actor_from_ap
from models.policy import is_blocked as blocked

DOMAINS = frozenset({"evil.example", "spam.test"})


@pytest.mark.parametrize("host", ["evil.example", "EVIL.example", "sub.evil.example", "a.b.evil.example:8443",
                                  "evil.example.", "spam.test:80"])
def test_a_blocked_domain_and_its_subdomains_are_blocked(host: str) -> None:
    assert blocked(host, DOMAINS)


@pytest.mark.parametrize("host", ["notevil.example", "evil.example.org", "example", "[::1]:8080", "127.0.0.1:8201"])
def test_other_hosts_are_not_blocked(host: str) -> None:
    assert not blocked(host, DOMAINS)


def test_an_ip_address_can_be_blocked() -> None:
    assert blocked("127.0.0.1:8201", frozenset({"127.0.0.1"}))
    assert blocked("[::1]:8080", frozenset({"::1"}))


def test_an_actor_document_gives_its_inboxes_and_aliases() -> None:
    actor = actor_from_ap({
        "id": "https://m.example/users/a", "type": ["Person"], "preferredUsername": "a", "name": "A",
        "inbox": "https://m.example/users/a/inbox", "endpoints": {"sharedInbox": "https://m.example/inbox"},
        "followers": "https://m.example/users/a/followers", "alsoKnownAs": ["https://old.example/users/a"],
    })
    assert (actor.host, actor.inbox_uri, actor.shared_inbox_uri) == (
        "m.example", "https://m.example/users/a/inbox", "https://m.example/inbox")
    assert actor.also_known_as == ["https://old.example/users/a"]


@pytest.mark.parametrize("document", [
    {"id": "https://m.example/notes/1", "type": "Note", "inbox": "https://m.example/inbox"},
    {"id": "https://m.example/users/a", "type": "Person"},
    {"id": "https://m.example/users/a", "type": "Person", "inbox": "https://elsewhere.example/inbox"},
    {"type": "Person", "inbox": "https://m.example/inbox"},
])
def test_documents_that_are_not_usable_actors_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(InvalidDocument):
        actor_from_ap(document)

