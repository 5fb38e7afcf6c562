"""`ayni federation …`: the admin's say over which servers this instance talks to."""

import argparse
import sys
from pathlib import Path
from typing import Any

from ayni.runtime import Runtime
from models import policy


def register(commands: Any) -> None:
    federation = commands.add_parser("federation", help="domain blocks and block lists").add_subparsers(
        title="federation commands", metavar="COMMAND"
    )
    block = federation.add_parser("block", help="block a domain and its subdomains: no traffic either way")
    block.add_argument("domain")
    block.add_argument("--reason", default="", help="kept with the block and exported as its public comment")
    block.set_defaults(run=cmd_block)
    unblock = federation.add_parser("unblock", help="lift a domain block")
    unblock.add_argument("domain")
    unblock.set_defaults(run=cmd_unblock)
    federation.add_parser("blocks", help="list blocked domains").set_defaults(run=cmd_blocks)
    imports = federation.add_parser("import-blocks", help="import a Mastodon CSV block list (or - for stdin)")
    imports.add_argument("file")
    imports.set_defaults(run=cmd_import)
    exports = federation.add_parser("export-blocks", help="export the block list as Mastodon CSV")
    exports.add_argument("file", nargs="?", default="-", help="default: standard output")
    exports.set_defaults(run=cmd_export)


async def _in_transaction(work: Any) -> Any:
    from ayni.cli import load_settings, require_schema, with_runtime

    async def run(runtime: Runtime) -> Any:
        await require_schema(runtime)
        async with runtime.sessions() as session, session.begin():
            return await work(session)

    return await with_runtime(load_settings(), run)


async def cmd_block(args: argparse.Namespace) -> None:
    block = await _in_transaction(lambda session: policy.block_domain(session, args.domain, args.reason))
    print(f"Blocked {block.domain} and its subdomains; follows with it removed, deliveries to it cancelled.")


async def cmd_unblock(args: argparse.Namespace) -> None:
    from ayni.cli import CommandError

    if not await _in_transaction(lambda session: policy.unblock_domain(session, args.domain)):
        raise CommandError(f"{args.domain} is not blocked")
    print(f"Unblocked {policy.normalise_domain(args.domain)}.")


async def cmd_blocks(args: argparse.Namespace) -> None:
    for block in await _in_transaction(policy.blocked_domains):
        print(f"{block.domain}\t{block.reason}" if block.reason else block.domain)


async def cmd_import(args: argparse.Namespace) -> None:
    from ayni.cli import CommandError

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"cannot read {args.file}: {e}") from None
    report = await _in_transaction(lambda session: policy.import_blocklist(session, text))
    for problem in report.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"Blocked {len(report.blocked)} domains; {len(report.skipped)} rows skipped.")


async def cmd_export(args: argparse.Namespace) -> None:
    text = policy.export_blocklist(await _in_transaction(policy.blocked_domains))
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text)
