"""`ayni retention run` and `ayni group set`: forgetting closed items now, and a group's
retention, country and service area."""

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ayni.commands import CommandError, find_group, transaction
from models import group_settings, profiles
from models.base import utcnow
from models.retention import forget_due
from models.runtime import Runtime


def register(commands: Any) -> None:
    """`ayni retention`."""
    retention = commands.add_parser(
        "retention", help="forget items closed longer ago than their group keeps them"
    ).add_subparsers(title="retention commands", metavar="COMMAND")
    run = retention.add_parser(
        "run", help="delete now what is due (the periodic job does it every minute)"
    )
    run.add_argument("--dry-run", action="store_true", help="print what it would delete, only")
    run.set_defaults(run=cmd_retention_run)


def register_group(group: Any) -> None:
    """`ayni group set`."""
    change = group.add_parser("set", help="a group's retention and country; prints its settings")
    change.add_argument("group")
    change.add_argument(
        "--retention-days",
        metavar="N",
        help="days its items are kept after they close (0: at the next run); default 30",
    )
    change.add_argument(
        "--region", metavar="CC", help="its country (ISO 3166, e.g. ES), for phone numbers"
    )
    change.add_argument(
        "--area",
        metavar="LAT,LON",
        help="the centre of its service area, published on its actor (rounded to ~500 m); "
        '"" for none',
    )
    change.add_argument(
        "--radius", metavar="KM", help="with --area: the area's radius in km (default 10)"
    )
    change.set_defaults(run=cmd_group_set)


@transaction
async def cmd_retention_run(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    lines = await forget_due(session, runtime, utcnow(), dry_run=args.dry_run)
    verb = "would be deleted" if args.dry_run else "deleted"
    return "\n".join([*lines, f"{len(lines)} {verb}"])


@transaction
async def cmd_group_set(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    group = await find_group(session, args.group)
    if args.radius is not None and args.area is None:
        raise CommandError("--radius goes with --area LAT,LON")
    service = None if args.area is None else (args.area, args.radius or 10)
    group_settings.change(
        group, retention=args.retention_days, country=args.region, service=service
    )
    if service is not None:  # the area is on the group's document: allies read it there
        await profiles.announce(session, runtime, group)
    return group_settings.describe(group)
