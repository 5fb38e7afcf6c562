"""`ayni ask|offer|call|item close|items|match`: asks, offers and calls from the command line (the
call subcommands of `ayni item` are in `ayni.cli_calls`)."""

import argparse
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ayni import cli_calls
from ayni.commands import CommandError, find_group, find_member, transaction
from federation.itemterms import Kind, Status
from federation.places import Place, distance_km
from federation.visibility import ITEM_VISIBILITIES, Visibility
from models import intake, introductions, items, matching, posting, taxonomy
from models.actors import LocalActor, Membership, Role
from models.items import Category, Item, RemoteItem
from models.posting import Draft
from models.runtime import Runtime

CLOSING = ["fulfilled", "withdrawn", "expired", "cancelled", "done"]


def register(commands: Any) -> None:
    for kind in (Kind.ASK, Kind.OFFER, Kind.CALL):
        helps = {
            Kind.ASK: "post an ask",
            Kind.OFFER: "post an offer",
            Kind.CALL: "post a solidarity call",
        }
        parser = commands.add_parser(kind.value, help=helps[kind])
        parser.add_argument("group")
        parser.add_argument("--title", required=True)
        parser.add_argument("--body", default="", help="Markdown")
        parser.add_argument(
            "--category", default="other", help="a category slug of the group (default other)"
        )
        parser.add_argument(
            "--as-group",
            action="store_true",
            help="post as the group, no member's name going out (the default without --member)",
        )
        parser.add_argument(
            "--visibility", choices=[v.value for v in ITEM_VISIBILITIES], default="public"
        )
        parser.add_argument(
            "--member",
            metavar="USERNAME",
            help="post in this member's name (without it, the item is posted as the group)",
        )
        parser.add_argument(
            "--point", metavar="LAT,LON", help="blurred to --radius before it is stored"
        )
        parser.add_argument("--radius", type=int, default=500, help="metres, at least 500")
        parser.add_argument(
            "--confirm-personal-data",
            action="store_true",
            help="publish even though the text looks like a phone, e-mail or address",
        )
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument(
            "--for",
            dest="requester",
            metavar="NAME",
            help="post it on behalf of someone without an account (needs --as-group): her name "
            "and --contact are sealed, for the group's moderators only, never published",
        )
        parser.add_argument(
            "--contact", metavar="TEXT", help="with --for: how to reach her (sealed)"
        )
        if kind == Kind.CALL:
            parser.add_argument("--starts", required=True, help="ISO date and time")
            parser.add_argument("--ends", help="ISO date and time")
            parser.add_argument("--place", required=True, help="the public place name")
            parser.add_argument(
                "--people", type=int, required=True, help="how many people are needed"
            )
            parser.add_argument(
                "--meeting-point",
                metavar="TEXT",
                help="where exactly to meet: sealed, never published, revealed only to those "
                "who say they are coming (needs no --confirm-personal-data)",
            )
            parser.add_argument(
                "--reveal-before",
                metavar="DURATION",
                help="hold the meeting point back until this long before the start (90m, 2h, 1d)",
            )
            parser.add_argument(
                "--reveal-inline",
                action="store_true",
                help="put the meeting point itself in the message, not a personal link",
            )
            parser.add_argument(
                "--needed-by",
                metavar="DATETIME",
                help="when a call still short escalates (default: two hours before it starts)",
            )
            parser.add_argument(
                "--capacity", type=int, metavar="N", help="at most this many may come"
            )
            parser.add_argument(
                "--no-ally-relay",
                dest="ally_relay",
                action="store_false",
                help="never ask allied groups to relay it when it is short",
            )
            parser.add_argument(
                "--not-urgent",
                dest="urgent",
                action="store_false",
                help="members hear of it in their digest, not at once (calls are urgent)",
            )
        else:
            parser.add_argument(
                "--place", help="a place name people recognise, never a street address"
            )
            parser.add_argument("--needed-by", help="ISO date (and time): when it expires")
            parser.add_argument("--quantity", type=int)
            parser.add_argument(
                "--overflow",
                action="store_true",
                help="if still open after --after, the group sends it to its allied groups, "
                "which share it with their followers when it is inside their area (public "
                "items only: followers-only and members-only ones never overflow)",
            )
            parser.add_argument(
                "--after",
                metavar="DURATION",
                help="with --overflow: how long it waits, like 90m, 2h, 1d, or 0 (default 1d)",
            )
            parser.add_argument(
                "--hops",
                type=int,
                choices=(1, 2),
                help="with --overflow: 1, the group's allies (default); 2, their allies too",
            )
        parser.set_defaults(run=cmd_post, kind=kind)

    item = commands.add_parser("item", help="change an item").add_subparsers(
        title="item commands", metavar="COMMAND"
    )
    close = item.add_parser(
        "close", help="close an item: fulfilled, withdrawn (asks, offers), done, cancelled (calls)"
    )
    close.add_argument("id", help="the item's number or uuid")
    close.add_argument("--status", required=True, choices=CLOSING)
    close.set_defaults(run=cmd_close)
    cli_calls.register_item(item)

    category = commands.add_parser("category", help="a group's categories").add_subparsers(
        title="category commands", metavar="COMMAND"
    )
    add = category.add_parser(
        "add", help="add a category to a group's taxonomy (its URI stays stable)"
    )
    add.add_argument("group")
    add.add_argument("slug", help="lowercase [a-z0-9_], 1-30 characters")
    add.add_argument("--name", required=True)
    add.add_argument(
        "--action", help="the ValueFlows action for its asks and offers (default: by kind)"
    )
    add.add_argument(
        "--broader",
        default="other",
        metavar="DEFAULT_SLUG",
        help="the default category it narrows, which other servers map it to (default other)",
    )
    add.set_defaults(run=cmd_category_add)
    shown = category.add_parser(
        "list",
        help="list a group's categories: slug, name, the default category it narrows (- for a "
        "default one), URI",
    )
    shown.add_argument("group")
    shown.set_defaults(run=cmd_category_list)

    listing = commands.add_parser(
        "items", help="list local items and followed groups' items (the network board)"
    )
    listing.add_argument("--group", help="only this local group's items (and none from elsewhere)")
    listing.add_argument("--kind", choices=[k.value for k in Kind])
    listing.add_argument(
        "--category",
        help="a category slug: a default one lists the items of every category narrowing it, "
        "here and on other servers",
    )
    listing.add_argument("--status", choices=[s.value for s in Status])
    listing.add_argument("--near", metavar="LAT,LON")
    listing.add_argument(
        "--within", type=float, default=10.0, metavar="KM", help="with --near (default 10)"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=cmd_items)

    match = commands.add_parser(
        "match", help="a group's open asks and offers, each with its possible matches (private)"
    )
    match.add_argument("group")
    match.add_argument("--json", action="store_true")
    match.set_defaults(run=cmd_match)


def _point(text: str, option: str) -> tuple[float, float]:
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise CommandError(f"{option}: expected LAT,LON, e.g. 40.41,-3.70") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CommandError(f"{option}: latitude or longitude out of range")
    return lat, lon


def _moment(text: str | None, timezone: str, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
        zone = ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise CommandError(
            f"{option}: expected an ISO date like 2026-12-05T10:00 (and a known --timezone)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


async def _author(session: AsyncSession, group: LocalActor, args: argparse.Namespace) -> LocalActor:
    if args.member:
        return await find_member(session, args.member)
    # Posted as the group from an admin tool: the group's first admin (else the instance's) is
    # kept as its author, for the moderators.
    member = await session.scalar(
        select(LocalActor)
        .join(Membership, Membership.member_id == LocalActor.id)
        .where(Membership.group_id == group.id, Membership.role.in_([Role.ADMIN, Role.MODERATOR]))
        .order_by(Membership.role, Membership.id)
        .limit(1)
    ) or await session.scalar(
        select(LocalActor).where(LocalActor.is_admin.is_(True)).order_by(LocalActor.id)
    )
    if member is None:
        raise CommandError(
            f"@{group.username} has no admin or moderator to stand behind it: use --member"
        )
    return member


def _requester(args: argparse.Namespace) -> intake.Requester | None:
    if args.requester is None:
        if args.contact is not None:
            raise CommandError("--contact goes with --for NAME")
        return None
    if not args.as_group:
        raise CommandError("--for needs --as-group: such an ask is posted as the group")
    found = intake.requester(args.requester, args.contact)
    if found is None:
        raise CommandError("--for: name who it is for")
    return found


def _overflow(args: argparse.Namespace) -> dict[str, Any]:
    if not args.overflow:
        if args.after is not None or args.hops is not None:
            raise CommandError("--after and --hops go with --overflow")
        return {}
    after = args.after or "1d"
    delay = timedelta(0) if after.strip() == "0" else cli_calls.duration(after, "--after")
    return {"overflow_after": delay, "overflow_hops": args.hops or 1}


@transaction
async def cmd_post(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    # The server's admin runs this: without --member, the safe default is the group's name.
    args.as_group = args.as_group or not args.member
    kind: Kind = args.kind
    requester = _requester(args)
    place = None
    if args.place:
        lat, lon = _point(args.point, "--point") if args.point else (None, None)
        place = Place(args.place, lat, lon, args.radius)
    draft = Draft(
        kind=kind,
        title=args.title,
        body_markdown=args.body,
        category=args.category,
        visibility=Visibility(args.visibility),
        as_group=args.as_group,
        place=place,
        timezone=args.timezone,
        quantity=getattr(args, "quantity", None),
        needed_by=_moment(getattr(args, "needed_by", None), args.timezone, "--needed-by"),
        starts_at=_moment(getattr(args, "starts", None), args.timezone, "--starts"),
        ends_at=_moment(getattr(args, "ends", None), args.timezone, "--ends"),
        meeting_point=getattr(args, "meeting_point", None),
        people_wanted=getattr(args, "people", None),
        requester=requester,
    )
    if kind != Kind.CALL:
        draft = replace(draft, **_overflow(args))
    if kind == Kind.CALL:
        if args.people < 1:
            raise CommandError("--people: a call needs at least 1 person")
        draft = replace(
            draft,
            capacity=args.capacity,
            ally_relay=args.ally_relay,
            urgent=args.urgent,
            reveal_inline=args.reveal_inline,
            reveal_before=cli_calls.duration(args.reveal_before) if args.reveal_before else None,
        )
    group = await find_group(session, args.group)
    author = await _author(session, group, args)
    item = await posting.create_item(
        session,
        runtime.uris,
        group,
        author,
        draft,
        confirm=args.confirm_personal_data,
        seal=runtime.seal,
    )
    return f"Posted {kind.value} {item.id} ({item.visibility}): {item.uri}"


@transaction
async def cmd_category_add(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    group = await find_group(session, args.group)
    category = await items.add_category(
        session, runtime.uris, group, args.slug, args.name, args.action, args.broader
    )
    return f"Added {category.slug} ({category.name}, narrows {category.broader}): {category.uri}"


@transaction
async def cmd_category_list(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    categories = await items.categories(
        session, runtime.uris, await find_group(session, args.group)
    )
    return "\n".join(
        f"{category.slug}\t{category.name}\t{category.broader or '-'}\t{category.uri}"
        for category in categories
    )


@transaction
async def cmd_close(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    item = await items.find_item(session, args.id)
    if item is None or item.deleted_at is not None:
        raise CommandError(f"there is no item {args.id}")
    item = await posting.close_item(session, runtime.uris, item, args.status)
    return f"The {item.kind} {item.id} is {item.status}."


async def board(session: AsyncSession, args: argparse.Namespace, host: str) -> list[dict[str, Any]]:
    """Local items (not deleted) and, unless --group, remote ones: plain rows, filtered."""
    query = (
        select(Item, LocalActor.username, Category)
        .join(LocalActor, LocalActor.id == Item.group_id)
        .join(Category, Category.id == Item.category_id)
    )
    query = query.where(Item.deleted_at.is_(None)).order_by(Item.id)
    if args.group:
        group = await find_group(session, args.group)  # a typo is an error, not an empty list
        query = query.where(LocalActor.id == group.id)
    rows: list[dict[str, Any]] = [
        {
            "id": item.id,
            "uri": item.uri,
            "origin": "local",
            "group": f"@{group}@{host}",
            "kind": item.kind,
            "title": item.title,
            "category": category.slug,
            "concept": taxonomy.concept_of(category),
            "status": item.status,
            "visibility": item.visibility,
            "as_group": item.as_group,
            "urgent": item.urgent if item.kind == Kind.CALL else None,
            "place": item.place_name,
            "latitude": item.latitude,
            "longitude": item.longitude,
            "end": item.end.isoformat() if item.end else None,
        }
        for item, group, category in await session.execute(query)
    ]
    if not args.group:
        rows += [
            {
                "id": None,
                "uri": r.uri,
                "origin": "remote",
                "group": r.group_uri,
                "kind": r.kind,
                "title": r.title,
                "category": taxonomy.slug_of(r.category_uri),
                "concept": r.concept,
                "status": r.status,
                "visibility": r.visibility,
                "as_group": None,
                "urgent": None,
                "place": r.place_name,
                "latitude": r.latitude,
                "longitude": r.longitude,
                "end": (e.isoformat() if (e := r.ends_at or r.needed_by) else None),
            }
            for r in await session.scalars(select(RemoteItem).order_by(RemoteItem.id))
        ]
    near = _point(args.near, "--near") if args.near else None

    def keep(row: dict[str, Any]) -> bool:
        if any(getattr(args, f) and row[f] != getattr(args, f) for f in ("kind", "status")):
            return False
        if args.category and not taxonomy.listed_under(
            args.category, row["category"], row["concept"]
        ):
            return False
        if near is None:
            return True
        if row["latitude"] is None:
            return False
        row["distance_km"] = round(distance_km(near, (row["latitude"], row["longitude"])), 1)
        return bool(row["distance_km"] <= args.within)

    return [row for row in rows if keep(row)]


@transaction
async def cmd_items(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    rows = await board(session, args, runtime.settings.host)
    if args.json:
        return json.dumps(rows, indent=2, ensure_ascii=False)
    return "\n".join(_line(row) for row in rows)


@transaction
async def cmd_match(args: argparse.Namespace, runtime: Runtime, session: AsyncSession) -> str:
    group = await find_group(session, args.group)
    rules = await runtime.blocklist.rules()
    rows: list[dict[str, Any]] = []
    for item in await session.scalars(
        select(Item).where(Item.group_id == group.id).order_by(Item.id)
    ):
        if not matching.open_to_matching(item):
            continue
        introduced = await introductions.of_item(session, item)
        rows.append(
            {
                "uuid": item.uuid,
                "uri": item.uri,
                "title": item.title,
                "kind": item.kind,
                "matches": [
                    {
                        "uri": c.uri,
                        "title": c.title,
                        "kind": c.kind,
                        "group": c.group,
                        "distance_km": c.distance_km,
                        "origin": "local" if c.local else "remote",
                        # pending, accepted or declined once introduced, else None
                        "introduction": asked.state
                        if (asked := introduced.get(c.uri)) is not None
                        else None,
                    }
                    for c in await matching.matches(session, item, rules)
                ],
            }
        )
    if args.json:
        return json.dumps(rows, indent=2, ensure_ascii=False)
    lines = []
    for row in rows:
        lines.append(f"{row['kind']}\t{row['title']}\t{row['uri']}")
        for m in row["matches"]:
            far = f"{m['distance_km']} km" if m["distance_km"] is not None else "? km"
            said = f"\tintroduced: {m['introduction']}" if m["introduction"] else ""
            lines.append(f"  {m['kind']}\t{m['title']}\t{m['group']}\t{far}\t{m['origin']}{said}")
    return "\n".join(lines) or f"@{group.username} has no open asks or offers."


def _line(row: dict[str, Any]) -> str:
    label = row["id"] if row["id"] is not None else "remote"
    where = f" @ {row['place']}" if row["place"] else ""
    return (
        f"{label}\t{row['kind']}\t{row['status']}\t{row['category']}"
        f"\t{row['title']}{where}\t{row['group']}"
    )
