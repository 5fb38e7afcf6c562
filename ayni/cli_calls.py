"""`ayni item rsvp|attendees|escalate|reveal` and `ayni escrow revoke|audit`: solidarity calls
from the command line, run by the server's admin (who sees who is coming, as moderators do).

Each command is a thin wrapper around a function of (session, runtime, ...) that returns what it
prints, so the tests call the functions in-process."""

import argparse
import json
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ayni.commands import CommandError, find_member, transaction
from federation import calls
from federation.itemterms import Kind
from models import commitments, escalation, escrow, items
from models.actors import ActorType, LocalActor, role_in
from models.base import utcnow
from models.calls import Channel, Commitment, CommitmentState
from models.commitments import Person
from models.escrow import EscrowLink, EscrowView
from models.items import Item
from models.messages import handle_of
from models.remote import RemoteActor
from models.runtime import Runtime

_DURATION = re.compile(r"(\d+)\s*([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str, option: str = "--reveal-before") -> timedelta:
    """`90m`, `2h`, `1d`."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise CommandError(f"{option}: expected a duration like 90m, 2h or 1d, not {text!r}")
    return timedelta(**{_UNITS[found[2]]: int(found[1])})


def register_item(item: Any) -> None:
    """The call subcommands of `ayni item`."""
    rsvp = item.add_parser("rsvp", help="a member is coming to a call (or, --cancel, no longer)")
    rsvp.add_argument("id", help="the call's number (`ayni items --json`) or URI")
    rsvp.add_argument("--member", required=True, metavar="NAME")
    rsvp.add_argument("--cancel", action="store_true", help="she is no longer coming")
    rsvp.set_defaults(run=cmd_rsvp)

    shown = item.add_parser(
        "attendees", help="a call's counts, and who is coming by which channel (for moderators)"
    )
    shown.add_argument("id", help="the call's number or URI")
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(run=cmd_attendees)

    escalate = item.add_parser(
        "escalate", help="take the next step of a short call's escalation ladder now"
    )
    escalate.add_argument("id", help="the call's number or URI")
    escalate.add_argument(
        "--dry-run", action="store_true", help="print what it would do, and do nothing"
    )
    escalate.set_defaults(run=cmd_escalate)

    reveal = item.add_parser(
        "reveal", help="send someone their personal link to a call's meeting point, by hand"
    )
    reveal.add_argument("id", help="the call's number or URI")
    reveal.add_argument(
        "--to",
        required=True,
        metavar="ACTOR",
        help="an actor URI or @user@host known here, or a local member's username",
    )
    reveal.set_defaults(run=cmd_reveal)


def register(commands: Any) -> None:
    """`ayni escrow`."""
    escrow_commands = commands.add_parser(
        "escrow", help="the sealed meeting points of calls: revoke links, audit who saw them"
    ).add_subparsers(title="escrow commands", metavar="COMMAND")
    revoke = escrow_commands.add_parser(
        "revoke", help="end a call's personal links (answer 410, delete their messages)"
    )
    revoke.add_argument("id", help="the call's number or URI")
    revoke.add_argument("--actor", metavar="URI", help="only this person's links")
    revoke.set_defaults(run=cmd_escrow_revoke)
    audit = escrow_commands.add_parser(
        "audit", help="who got a link to a call's meeting point, who opened it, when"
    )
    audit.add_argument("id", help="the call's number or URI")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(run=cmd_escrow_audit)


# --- finding things ---


async def find_call(session: AsyncSession, key: str) -> Item:
    item = await items.find_item(session, key)
    if item is None or item.deleted_at is not None:
        raise CommandError(f"there is no item {key}")
    if item.kind != Kind.CALL:
        raise CommandError(f"item {item.id} is an {item.kind}, not a call")
    return item


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def who(session: AsyncSession, commitment: Commitment) -> str:
    """A member's username, a remote person's handle (or uri), or "someone via <group>" for
    someone a group committed without naming her."""
    if commitment.member_id is not None:
        member = await session.get(LocalActor, commitment.member_id)
        return member.username if member is not None else commitment.person
    if commitment.remote_actor_id is not None:
        actor = await session.get(RemoteActor, commitment.remote_actor_id)
        if actor is None:
            return commitment.person
        if commitment.person != actor.uri:
            return f"someone via {actor.uri}"
        return actor.uri
    return commitment.person


async def find_remote(session: AsyncSession, actor: str) -> RemoteActor | None:
    """By uri, or by @user@host."""
    if "://" in actor:
        return await session.scalar(select(RemoteActor).where(RemoteActor.uri == actor))
    user, _, host = actor.removeprefix("@").partition("@")
    if not user or not host:
        return None
    return await session.scalar(
        select(RemoteActor).where(
            func.lower(RemoteActor.username) == user.lower(),
            func.lower(RemoteActor.host) == host.lower(),
        )
    )


def _count_line(language: str, found: dict[str, int], needed: int) -> str:
    return calls.count_line(language, found[CommitmentState.COMING], needed)


async def _language(session: AsyncSession, item: Item) -> str:
    group = await session.get(LocalActor, item.group_id)
    return group.language if group is not None else "en"


# --- the commands, as functions ---


async def rsvp(
    session: AsyncSession, runtime: Runtime, key: str, member_name: str, *, cancel: bool = False
) -> str:
    item = await find_call(session, key)
    member = await find_member(session, member_name)
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    if await role_in(session, group, member) is None:
        raise CommandError(f"@{member.username} is not a member of @{group.username}")
    person = Person.member(member)
    if cancel:
        existing = await commitments.find(session, item, person)
        if existing is None or existing.state == CommitmentState.WITHDRAWN:
            raise CommandError(f"@{member.username} had not said she is coming to call {item.id}")
        state = CommitmentState.WITHDRAWN
    else:
        state = CommitmentState.COMING
    _, changed = await commitments.commit(session, runtime, item, person, state, Channel.CLI)
    found = await items.counts(session, item)
    line = _count_line(group.language, found, item.people_wanted or 0)
    said = "is coming to" if state == CommitmentState.COMING else "is no longer counted for"
    already = "" if changed else " (already)"
    return f"@{member.username} {said} call {item.id}{already}: {line}"


async def attendees(session: AsyncSession, runtime: Runtime, key: str) -> dict[str, Any]:
    item = await find_call(session, key)
    found = await items.counts(session, item)
    needed = item.people_wanted or 0
    coming = found[CommitmentState.COMING]
    return {
        "coming": coming,
        "maybe": found[CommitmentState.MAYBE],
        "withdrawn": found[CommitmentState.WITHDRAWN],
        "needed": needed,
        "missing": max(needed - coming, 0),
        "attendees": [
            {
                "who": await who(session, row),
                "state": row.state,
                "channel": row.channel,
                "when": _iso(row.updated_at),
            }
            for row in await commitments.attendees(session, item)
        ],
    }


def attendees_text(found: dict[str, Any]) -> str:
    counted = (
        f"coming {found['coming']}, maybe {found['maybe']}, withdrawn {found['withdrawn']}; "
        f"needed {found['needed']}, missing {found['missing']}"
    )
    lines = [counted]
    lines += [
        f"{row['who']}\t{row['state']}\t{row['channel']}\t{row['when']}"
        for row in found["attendees"]
    ]
    return "\n".join(lines)


async def escalate(
    session: AsyncSession,
    runtime: Runtime,
    key: str,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> str:
    item = await find_call(session, key)
    if not commitments.is_open(item):
        raise CommandError(f"call {item.id} is {item.status}: nothing to escalate")
    did = await escalation.escalate(
        session, runtime, item, now or utcnow(), dry_run=dry_run, force=True
    )
    if did is not None:
        return did
    coming, needed = await escalation.shortfall(session, item)
    if coming >= needed:
        return f"nothing to do: {coming} of {needed} coming"
    return (
        f"nothing to do: every step of the ladder was taken ({coming} of {needed} coming; "
        f"steps: {', '.join(map(str, escalation.ladder(item)))})"
    )


async def reveal(session: AsyncSession, runtime: Runtime, key: str, actor: str) -> str:
    item = await find_call(session, key)
    if not commitments.is_open(item):
        raise CommandError(f"call {item.id} is {item.status}: its links no longer go out")
    if await escrow.meeting_point_row(session, item) is None:
        raise CommandError(f"call {item.id} has no meeting point")
    remote = await find_remote(session, actor)
    if remote is not None:
        person = Person.remote_actor(remote)
        commitment = await commitments.find(session, item, person)
        if commitment is None:
            commitment, _ = await commitments.commit(
                session, runtime, item, person, CommitmentState.MAYBE, Channel.CLI
            )
        link = await commitments.reveal(session, runtime, item, commitment, force=True)
        assert link is not None
        return f"Sent {handle_of(remote)} a personal link to call {item.id}'s meeting point."
    if "://" in actor or "@" in actor.removeprefix("@"):
        raise CommandError(f"{actor} is not known here: no actor with that URI or handle")
    member = await find_member(session, actor)
    if member.type != ActorType.PERSON:
        raise CommandError(f"there is no member named {actor!r}")
    person = Person.member(member)
    commitment = await commitments.find(session, item, person)
    if commitment is None:
        commitment, _ = await commitments.commit(
            session, runtime, item, person, CommitmentState.MAYBE, Channel.CLI
        )
    # Members have no inbox elsewhere: the link is for the admin to hand over.
    _, token = await escrow.issue(session, item, commitment.id)
    url = f"{runtime.settings.base_url}/calls/{item.id}/where/{token}"
    return f"A personal link for @{member.username} (hers only; it is shown this once): {url}"


async def escrow_revoke(
    session: AsyncSession, runtime: Runtime, key: str, actor: str | None = None
) -> str:
    item = await find_call(session, key)
    commitment = None
    if actor is not None:
        remote = await find_remote(session, actor)
        query = select(Commitment).where(Commitment.item_id == item.id)
        if remote is not None:
            query = query.where(
                or_(Commitment.remote_actor_id == remote.id, Commitment.person == actor)
            )
        else:
            member = await session.scalar(
                select(LocalActor).where(func.lower(LocalActor.username) == actor.lower())
            )
            query = query.where(
                or_(
                    Commitment.person == actor,
                    Commitment.member_id == (member.id if member is not None else -1),
                )
            )
        commitment = await session.scalar(query.order_by(Commitment.id).limit(1))
        if commitment is None:
            raise CommandError(f"{actor} has no commitment to call {item.id}")
    ended = await escrow.revoke(session, runtime.uris, item, commitment)
    whose = f" of {actor}" if actor else ""
    return f"{ended} link(s){whose} to call {item.id}'s meeting point revoked."


async def escrow_audit(session: AsyncSession, runtime: Runtime, key: str) -> dict[str, Any]:
    item = await find_call(session, key)
    views: dict[int | None, list[EscrowView]] = {}
    for view in await session.scalars(
        select(EscrowView).where(EscrowView.item_id == item.id).order_by(EscrowView.id)
    ):
        views.setdefault(view.link_id, []).append(view)
    links = []
    for link, commitment in await session.execute(
        select(EscrowLink, Commitment)
        .join(Commitment, Commitment.id == EscrowLink.commitment_id)
        .where(EscrowLink.item_id == item.id)
        .order_by(EscrowLink.id)
    ):
        links.append(
            {
                "who": await who(session, commitment),
                "issued": _iso(link.created_at),
                "expires": _iso(link.expires_at),
                "revoked": _iso(link.revoked_at),
                "views": [_iso(view.viewed_at) for view in views.get(link.id, [])],
            }
        )
    on_page = []
    for view in views.get(None, []):
        member = await session.get(LocalActor, view.member_id) if view.member_id else None
        on_page.append({"who": member.username if member else None, "viewed": _iso(view.viewed_at)})
    return {"links": links, "page_views": on_page}


def audit_text(found: dict[str, Any]) -> str:
    lines = []
    for link in found["links"]:
        revoked = f", revoked {link['revoked']}" if link["revoked"] else ""
        lines.append(f"{link['who']}\tlink issued {link['issued']}{revoked}")
        lines += [f"\tviewed {moment}" for moment in link["views"]]
    for view in found["page_views"]:
        lines.append(f"{view['who']}\tviewed on the call's page {view['viewed']}")
    return "\n".join(lines) or "No link was issued and nobody has viewed the meeting point."


# --- the commands ---


@transaction
async def cmd_rsvp(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    return await rsvp(session, runtime, args.id, args.member, cancel=args.cancel)


@transaction
async def cmd_attendees(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    found = await attendees(session, runtime, args.id)
    return json.dumps(found, indent=2, ensure_ascii=False) if args.json else attendees_text(found)


@transaction
async def cmd_escalate(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    return await escalate(session, runtime, args.id, dry_run=args.dry_run)


@transaction
async def cmd_reveal(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    return await reveal(session, runtime, args.id, args.to)


@transaction
async def cmd_escrow_revoke(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    return await escrow_revoke(session, runtime, args.id, args.actor)


@transaction
async def cmd_escrow_audit(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    found = await escrow_audit(session, runtime, args.id)
    return json.dumps(found, indent=2, ensure_ascii=False) if args.json else audit_text(found)
