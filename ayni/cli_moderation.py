"""`ayni relay …` and `ayni moderation …`: a group's moderators share, block, report and decide."""

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ayni.commands import CommandError, command, find_group, transaction
from ayni.following import resolve_actor
from federation import vocab
from federation.sanitize import html_to_text
from models import group_moderation, relays, remote_actors
from models.follow_requests import decide, pending_requests
from models.follows import Follow
from models.remote import RemoteActor
from models.runtime import Runtime


def register(commands: Any) -> None:
    relay = commands.add_parser("relay", help="share followed groups' items with our followers")
    relay.add_argument("group")
    relay.add_argument("item", help="the item's uri (see `ayni items GROUP --board`)")
    relay.set_defaults(run=cmd_relay)
    # `ayni relay auto GROUP @ally@host` reads as a sub-form of `ayni relay`; argparse cannot mix a
    # positional and subcommands, so "auto" is recognised by cmd_relay itself.
    relay.add_argument("rest", nargs="?", help=argparse.SUPPRESS)
    relay.add_argument("--category", help="with auto: only items of this category uri")
    relay.add_argument("--off", action="store_true", help="with auto: stop relaying that ally")

    moderation_ = commands.add_parser(
        "moderation", help="a group's blocks, reports, submissions, follow requests"
    )
    sub = moderation_.add_subparsers(title="moderation commands", metavar="COMMAND")
    for name, run, helps in (
        ("block", cmd_block, "the actor can no longer follow, reply or submit"),
        ("unblock", cmd_unblock, "lift a group's block"),
    ):
        parser = sub.add_parser(name, help=helps)
        parser.add_argument("group")
        parser.add_argument("actor", help="@name@host or the actor's uri")
        parser.set_defaults(run=run)
    report = sub.add_parser("report", help="report an actor or a post to its server (a Flag)")
    report.add_argument("group")
    report.add_argument("target", help="an actor's uri or handle, or a post's uri")
    report.add_argument("--comment", required=True)
    report.set_defaults(run=cmd_report)
    for name, run, helps in (
        ("reports", cmd_reports, "reports other servers sent about the group"),
        ("submissions", cmd_submissions, "posts mentioning the group, held for review"),
        ("follow-requests", cmd_requests, "follow requests awaiting a decision"),
    ):
        parser = sub.add_parser(name, help=helps)
        parser.add_argument("group")
        parser.set_defaults(run=run)
    for name, run, helps in (
        ("approve", cmd_approve, "the group shares the submission (Announce)"),
        ("reject", cmd_reject, "nothing goes out; the decision is kept"),
        ("accept", cmd_accept, "accept a follow request"),
        ("refuse", cmd_refuse, "refuse a follow request"),
    ):
        parser = sub.add_parser(name, help=helps)
        parser.add_argument("group")
        parser.add_argument("id", type=int)
        parser.set_defaults(run=run)


async def _check_group(runtime: Runtime, name: str) -> None:
    """Before anything is fetched: a mistyped group costs no request."""
    async with runtime.sessions() as session:
        await find_group(session, name)


async def _actor(runtime: Runtime, ref: str) -> RemoteActor:
    """A handle through WebFinger, a uri directly; the network before any transaction."""
    if ref.startswith("@") or ("://" not in ref and "@" in ref):
        return await resolve_actor(runtime, ref)
    return await remote_actors.remote_actor(runtime, ref)


@command
async def cmd_relay(args: argparse.Namespace, runtime: Runtime) -> None:
    if args.group == "auto":
        await _auto(args, runtime)
        return
    async with runtime.sessions() as session, session.begin():
        row = await relays.relay_item(
            session, runtime.uris, await find_group(session, args.group), args.item
        )
    print(f"@{args.group} shared {row.object_uri} with its followers (delivered by the workers).")


async def _auto(args: argparse.Namespace, runtime: Runtime) -> None:
    group_name, ally = args.item, args.rest
    if not ally:
        raise CommandError("usage: ayni relay auto GROUP @ally@host [--category URI] [--off]")
    await _check_group(runtime, group_name)
    remote = await _actor(runtime, ally)
    async with runtime.sessions() as session, session.begin():
        group = await find_group(session, group_name)
        if args.off:
            removed = await relays.remove_ally(session, group, remote)
            report = f"@{group_name} no longer relays {remote.uri} ({removed} rules removed)."
        else:
            await relays.add_ally(session, group, remote, args.category)
            scope = f"items of {args.category}" if args.category else "items"
            report = f"@{group_name} now relays {remote.uri}'s {scope} automatically."
    print(report)


@command
async def cmd_block(args: argparse.Namespace, runtime: Runtime) -> None:
    await _check_group(runtime, args.group)
    remote = await _actor(runtime, args.actor)
    async with runtime.sessions() as session, session.begin():
        await group_moderation.block_actor(
            session, runtime.uris, await find_group(session, args.group), remote
        )
    print(f"@{args.group} blocks {remote.uri}: no follows, replies or submissions from it.")


@command
async def cmd_unblock(args: argparse.Namespace, runtime: Runtime) -> None:
    await _check_group(runtime, args.group)
    remote = await _actor(runtime, args.actor)
    async with runtime.sessions() as session, session.begin():
        if not await group_moderation.unblock_actor(
            session, await find_group(session, args.group), remote
        ):
            raise CommandError(f"@{args.group} does not block {remote.uri}")
    print(f"@{args.group} no longer blocks {remote.uri}.")


@command
async def cmd_report(args: argparse.Namespace, runtime: Runtime) -> None:
    await _check_group(runtime, args.group)
    target, objects = args.target, []
    if "://" in target:
        document = await runtime.fetch(target)
        if not vocab.has_type(document, *vocab.ACTOR_TYPES):
            authors = [a for a in vocab.attributed_to(document) if vocab.same_origin(a, target)]
            if not authors:
                raise CommandError(f"{target} names no author on its own server")
            target, objects = authors[0], [args.target]
    remote = await _actor(runtime, target)
    async with runtime.sessions() as session, session.begin():
        group = await find_group(session, args.group)
        await group_moderation.report(session, runtime.uris, group, remote, objects, args.comment)
    print(f"Reported {remote.uri} to {remote.host} (delivered by the workers).")


@transaction
async def cmd_reports(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    lines = []
    for row in await group_moderation.reports(
        session, runtime.uris, await find_group(session, args.group)
    ):
        reporter = await session.get(RemoteActor, row.remote_actor_id)
        targets = " ".join(
            u for u in vocab.ids_of(row.document.get("object")) if isinstance(u, str)
        )
        lines.append(
            f"{row.id}\t{reporter.uri if reporter else '?'}\t{targets}"
            f"\t{html_to_text(row.content_html)}"
        )
    return "\n".join(lines)


@transaction
async def cmd_submissions(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    lines = []
    for row in await group_moderation.submissions(session, await find_group(session, args.group)):
        author = await session.get(RemoteActor, row.remote_actor_id)
        lines.append(
            f"{row.id}\t{author.uri if author else '?'}\t{row.uri}"
            f"\t{html_to_text(row.content_html)[:200]}"
        )
    return "\n".join(lines)


@transaction
async def cmd_approve(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    row = await group_moderation.approve_submission(
        session, runtime.uris, await find_group(session, args.group), args.id
    )
    return f"@{args.group} shares {row.object_uri} with its followers."


@transaction
async def cmd_reject(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    await group_moderation.reject_submission(
        session, await find_group(session, args.group), args.id
    )
    return f"Submission {args.id} rejected; nothing was sent."


@transaction
async def cmd_requests(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    lines = []
    for follow, remote in await pending_requests(session, await find_group(session, args.group)):
        handle = f"@{remote.username}@{remote.host}" if remote.username else remote.uri
        lines.append(f"{follow.id}\t{handle}\t{remote.uri}")
    return "\n".join(lines)


async def _decide(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession, accept: bool
) -> str:
    group = await find_group(session, args.group)
    follow = await session.get(Follow, args.id)
    if follow is None or follow.local_actor_id != group.id:
        raise CommandError(f"@{args.group} has no follow request {args.id}")
    await decide(runtime, session, follow, accept)
    return f"Follow request {args.id} {'accepted' if accept else 'refused'}."


@transaction
async def cmd_accept(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    return await _decide(args, runtime, session, True)


@transaction
async def cmd_refuse(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    return await _decide(args, runtime, session, False)
