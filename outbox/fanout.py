"""Fan-out, pure: an activity's recipients -> the inboxes to deliver it to.

Shared inboxes are preferred (one POST per server, not per follower), duplicates and our own
host are dropped, and blocked domains (and their subdomains) never receive anything. A host
marked unavailable is skipped too, except for the handshake activities (Follow, Accept,
Reject, Undo) whose loss would leave two servers disagreeing about a relationship.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from federation import vocab
from models.policy import is_blocked

HANDSHAKE_TYPES = frozenset({"Follow", "Accept", "Reject", "Undo"})


@dataclass(frozen=True)
class Recipient:
    actor_uri: str
    inbox_uri: str
    shared_inbox_uri: str | None = None


@dataclass(frozen=True)
class Target:
    inbox_uri: str
    host: str


def fan_out(
    activity_type: str,
    recipients: Iterable[Recipient],
    *,
    own_host: str,
    blocked_domains: Collection[str] = (),
    unavailable_hosts: Collection[str] = (),
    allowed_domains: Collection[str] | None = None,
) -> list[Target]:
    """`allowed_domains`: in allowlist mode, only these (and their subdomains) receive anything."""
    blocked = {domain.lower().rstrip(".") for domain in blocked_domains}
    skip_unavailable = activity_type not in HANDSHAKE_TYPES
    targets: dict[str, Target] = {}
    for recipient in recipients:
        inbox = recipient.shared_inbox_uri or recipient.inbox_uri
        host = vocab.host_of(inbox)
        if not inbox or host is None or host == own_host or inbox in targets:
            continue
        if is_blocked(host, blocked) or (skip_unavailable and host in unavailable_hosts):
            continue
        if allowed_domains is not None and not is_blocked(host, allowed_domains):
            continue
        targets[inbox] = Target(inbox, host)
    return list(targets.values())
