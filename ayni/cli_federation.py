"""`ayni federation …`: the admin's say over which servers this instance talks to."""

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ayni import following
from ayni.commands import CommandError, command, transaction
from models import policy
from models.runtime import Runtime


def register(commands: Any) -> None:
    federation = commands.add_parser(
        "federation", help="follows between groups, blocks, allowlist mode"
    ).add_subparsers(title="federation commands", metavar="COMMAND")
    follow = federation.add_parser(
        "follow", help="a group follows another group (or any actor) by handle"
    )
    follow.add_argument("group", help="our group's name")
    follow.add_argument("handle", help="@name@host")
    follow.set_defaults(run=cmd_follow)
    unfollow = federation.add_parser("unfollow", help="a group stops following an actor")
    unfollow.add_argument("group")
    unfollow.add_argument("handle")
    unfollow.set_defaults(run=cmd_unfollow)
    listing = federation.add_parser(
        "list", help="who a group follows and who follows it, with states"
    )
    listing.add_argument("group")
    listing.set_defaults(run=cmd_list)
    ally = federation.add_parser(
        "ally",
        help="count a group as an ally (or, --off, never), whatever the follows say; "
        "without a mark, groups that follow each other are allies",
    )
    ally.add_argument("group", help="our group's name")
    ally.add_argument("handle", help="the other group's @name@host")
    ally.add_argument("--off", action="store_true", help="not an ally, even with mutual follows")
    ally.set_defaults(run=cmd_ally)
    mode = federation.add_parser(
        "mode", help="open: all but blocked domains; allowlist: only allowed ones"
    )
    mode.add_argument("mode", choices=[policy.Mode.OPEN, policy.Mode.ALLOWLIST])
    mode.set_defaults(run=cmd_mode)
    allow = federation.add_parser(
        "allow", help="allow a domain (and its subdomains) in allowlist mode"
    )
    allow.add_argument("domain")
    allow.set_defaults(run=cmd_allow)
    disallow = federation.add_parser("disallow", help="take a domain off the allowlist")
    disallow.add_argument("domain")
    disallow.set_defaults(run=cmd_disallow)
    block = federation.add_parser(
        "block", help="block a domain and its subdomains: no traffic either way"
    )
    block.add_argument("domain")
    block.add_argument(
        "--reason", default="", help="kept with the block and exported as its public comment"
    )
    block.set_defaults(run=cmd_block)
    unblock = federation.add_parser("unblock", help="lift a domain block")
    unblock.add_argument("domain")
    unblock.set_defaults(run=cmd_unblock)
    federation.add_parser("blocks", help="list blocked domains").set_defaults(run=cmd_blocks)
    imports = federation.add_parser(
        "import-blocks", help="import a Mastodon CSV block list (or - for stdin)"
    )
    imports.add_argument("file")
    imports.set_defaults(run=cmd_import)
    exports = federation.add_parser("export-blocks", help="export the block list as Mastodon CSV")
    exports.add_argument("file", nargs="?", default="-", help="default: standard output")
    exports.set_defaults(run=cmd_export)


@command
async def cmd_follow(args: argparse.Namespace, runtime: Runtime) -> None:
    remote = await following.follow_handle(runtime, args.group, args.handle)
    print(
        f"@{args.group} asked to follow {remote.uri}; "
        "pending until it accepts (delivered by the workers)."
    )


@command
async def cmd_unfollow(args: argparse.Namespace, runtime: Runtime) -> None:
    remote = await following.unfollow_handle(runtime, args.group, args.handle)
    print(f"@{args.group} no longer follows {remote.uri}.")


@command
async def cmd_ally(args: argparse.Namespace, runtime: Runtime) -> None:
    remote = await following.ally_handle(runtime, args.group, args.handle, not args.off)
    if args.off:
        print(
            f"@{args.group} does not count {remote.uri} as an ally, even if they follow each other."
        )
    else:
        print(f"@{args.group} counts {remote.uri} as an ally.")


@command
async def cmd_list(args: argparse.Namespace, runtime: Runtime) -> None:
    for relation in await following.relations(runtime, args.group):
        label = "follows" if relation.direction == "outbound" else "followed by"
        print(f"{label}\t{relation.handle}\t{relation.state}")


@transaction
async def cmd_mode(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    await policy.set_mode(session, args.mode)
    if args.mode == policy.Mode.ALLOWLIST:
        return (
            "Allowlist mode: only allowed domains may deliver to us, fetch our non-public documents"
            " or receive our deliveries. Allow one with `ayni federation allow DOMAIN`."
        )
    return "Open federation: every domain but the blocked ones."


@transaction
async def cmd_allow(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    allow = await policy.allow_domain(session, args.domain)
    return f"Allowed {allow.domain} and its subdomains."


@transaction
async def cmd_disallow(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    if not await policy.disallow_domain(session, args.domain):
        raise CommandError(f"{args.domain} is not on the allowlist")
    return f"{policy.normalise_domain(args.domain)} is no longer allowed."


@transaction
async def cmd_block(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    block = await policy.block_domain(session, args.domain, args.reason)
    return (
        f"Blocked {block.domain} and its subdomains; "
        "follows with it removed, deliveries to it cancelled."
    )


@transaction
async def cmd_unblock(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    if not await policy.unblock_domain(session, args.domain):
        raise CommandError(f"{args.domain} is not blocked")
    return f"Unblocked {policy.normalise_domain(args.domain)}."


@transaction
async def cmd_blocks(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    blocks = await policy.blocked_domains(session)
    return "\n".join(
        f"{block.domain}\t{block.reason}" if block.reason else block.domain for block in blocks
    )


@command
async def cmd_import(args: argparse.Namespace, runtime: Runtime) -> None:
    try:
        text = (
            sys.stdin.read()
            if args.file == "-"
            else Path(args.file).read_text(encoding="utf-8-sig")
        )
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"cannot read {args.file}: {e}") from None
    async with runtime.sessions() as session, session.begin():
        report = await policy.import_blocklist(session, text)
    for problem in report.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"Blocked {len(report.blocked)} domains; {len(report.skipped)} rows skipped.")


@command
async def cmd_export(args: argparse.Namespace, runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        text = policy.export_blocklist(await policy.blocked_domains(session))
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text)
