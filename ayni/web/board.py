"""The network board: open items of the groups our groups follow, our groups' public ones, and the
followers-only and members-only ones of the member's own groups (with their badge): `models.board`.

Places are coarse everywhere (an item's point is blurred to 500 m or more before it is stored), so
the distance filter measures from one coarse point to another; the point a member types is used
for this one request and kept nowhere.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, render, security
from ayni.web.groups import KIND_LABELS, coming_counts
from ayni.web.i18n import N_
from federation.items import POST
from federation.itemterms import CLOSED
from federation.places import distance_km
from federation.visibility import Visibility
from federation.vocab import host_of
from models import joins, taxonomy
from models.actors import LocalActor, Role
from models.base import utcnow
from models.board import followed, shows_local, shows_remote
from models.calls import OutgoingJoin
from models.items import DEFAULT_CATEGORIES, Category, Item, RemoteItem
from models.policy import Rules
from models.remote import RemoteActor
from models.runtime import Runtime

LIMIT = 200  # newest rows read from each side before filtering by distance
DEFAULT_WITHIN_KM = 10.0
MAX_WITHIN_KM = 20_000.0
NO_CALL = N_("There is no such call on your board, or it is over.")
JOINED = N_("Thank you: the group that posted the call has been told you are coming.")
JOINED_ANONYMOUSLY = N_(
    "Thank you: the group that posted the call has been told that someone from %(group)s is "
    "coming, without your name."
)
LEFT = N_("Noted: the group that posted the call has been told you can no longer come.")
# A followed community's plain post (Lemmy, Mbin): on the board beside asks, offers and calls.
BOARD_KINDS = {
    **{str(kind): label for kind, label in KIND_LABELS.items()},
    POST: N_("Community post"),
}
BAD_POINT = N_("Type the place as latitude, longitude, e.g. -12.05, -77.04.")
BAD_WITHIN = N_("Type the distance as a number of kilometres, e.g. 10.")
# The names of models.items.DEFAULT_CATEGORIES, for the catalogues: the pages show category names
# through tr(), so the default ones appear translated, and /taxonomy labels them in each language.
DEFAULT_CATEGORY_NAMES = (
    N_("Food"),
    N_("Housing"),
    N_("Transport"),
    N_("Childcare"),
    N_("Health"),
    N_("Money"),
    N_("Goods"),
    N_("Skills"),
    N_("Care"),
    N_("Legal"),
    N_("Other"),
)


@dataclass(frozen=True)
class Entry:
    link: str
    kind: str
    title: str
    category: str | None
    group_name: str
    group_link: str | None
    place_name: str | None
    point: tuple[float, float] | None
    posted: datetime
    distance_km: float | None = None
    remote_id: int | None = None  # another server's call a member may say she is coming to
    visibility: str = Visibility.PUBLIC  # ours: members-only and followers-only for her groups
    relay_uri: str | None = None  # another server's public item her groups' moderators may relay
    due: datetime | None = None  # an ask's or offer's needed-by date, a call's start
    coming: int | None = None  # for calls: how many are coming, of how many wanted
    wanted: int | None = None
    reported_as: int | None = None  # another server's item: `/report?remote=` it


@dataclass(frozen=True)
class Query:
    kind: str | None
    category: str | None
    near: tuple[float, float] | None
    within_km: float


def parse_point(text: str) -> tuple[float, float] | None:
    latitude, comma, longitude = text.partition(",")
    try:
        point = (float(latitude), float(longitude)) if comma else None
    except ValueError:
        return None
    if point is None or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return None
    return point


def parse_query(params: Any) -> tuple[Query, list[str]]:
    """Unknown kinds and categories are ignored (old links); a bad place or distance is an error."""
    errors: list[str] = []
    kind = params.get("kind") if params.get("kind") in BOARD_KINDS else None
    category = (params.get("category") or "").strip()[:64] or None
    # A typed point wins over a chosen place of one's groups.
    near_text = (params.get("near") or params.get("place") or "").strip()[:64]
    near = parse_point(near_text) if near_text else None
    if near_text and near is None:
        errors.append(BAD_POINT)
    within_text = (params.get("within") or "").strip()[:16]
    try:
        within = float(within_text) if within_text else DEFAULT_WITHIN_KM
        if not 0 < within <= MAX_WITHIN_KM:
            raise ValueError(within)
    except ValueError:
        errors.append(BAD_WITHIN)
        within = DEFAULT_WITHIN_KM
    return Query(kind, category, near, within), errors


async def local_entries(
    session: AsyncSession, query: Query, groups: list[LocalActor]
) -> list[Entry]:
    """Our groups' open public items, and all the open items of `groups` (the member's)."""
    statement = (
        select(Item, LocalActor, Category.slug)
        .join(LocalActor, LocalActor.id == Item.group_id)
        .join(Category, Category.id == Item.category_id)
        .where(
            shows_local(groups),
            Item.deleted_at.is_(None),
            Item.status.not_in([str(s) for s in CLOSED]),
        )
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(LIMIT)
    )
    if query.kind:
        statement = statement.where(Item.kind == query.kind)
    if query.category:
        statement = statement.where(taxonomy.local_listed_under(query.category))
    found = (await session.execute(statement)).all()
    coming = await coming_counts(session, [item.id for item, _, _ in found if item.kind == "call"])
    return [
        Entry(
            link=item.uri,
            kind=item.kind,
            title=item.title,
            category=slug,
            group_name=group.name or group.username,
            group_link=f"/@{group.username}",
            place_name=item.place_name,
            point=(item.latitude, item.longitude)
            if item.latitude is not None and item.longitude is not None
            else None,
            posted=item.created_at,
            visibility=item.visibility,
            due=item.starts_at if item.kind == "call" else item.needed_by,
            coming=coming.get(item.id, 0),
            wanted=item.people_wanted,
        )
        for item, group, slug in found
    ]


async def remote_entries(
    session: AsyncSession, member: LocalActor, query: Query, rules: Rules
) -> list[Entry]:
    """Public items of followed groups; followers-only ones only for members of a group that
    follows their group (it is to that group that they were delivered). Nothing from a server
    the instance has since blocked (or, in allowlist mode, not allowed)."""
    followed_ids, followed_uris = await followed(session, await access.groups_of(session, member))
    group_actor = aliased(RemoteActor)  # the author may be a member: the board names her group
    statement = (
        select(RemoteItem, RemoteActor, group_actor)
        .join(RemoteActor, RemoteActor.id == RemoteItem.remote_actor_id)
        .outerjoin(group_actor, group_actor.uri == RemoteItem.group_uri)
        .where(RemoteItem.status.not_in([str(s) for s in CLOSED]))
        .order_by(RemoteItem.received_at.desc(), RemoteItem.id.desc())
        .limit(LIMIT)
    )
    if query.kind:
        statement = statement.where(RemoteItem.kind == query.kind)
    entries = []
    for row, actor, group in (await session.execute(statement)).all():
        if not shows_remote(row, actor, followed_ids, followed_uris, rules):
            continue
        slug = taxonomy.slug_of(row.category_uri)
        if query.category and not taxonomy.listed_under(query.category, slug, row.concept):
            continue
        link = row.url if row.url and row.url.startswith(("https://", "http://")) else row.uri
        entries.append(
            Entry(
                link=link,
                kind=row.kind,
                title=row.title,
                category=slug,
                group_name=(group.name if group else None)
                or host_of(row.group_uri or actor.uri)
                or actor.uri,
                group_link=None,
                place_name=row.place_name,
                point=(row.latitude, row.longitude)
                if row.latitude is not None and row.longitude is not None
                else None,
                posted=row.published_at or row.received_at,
                remote_id=row.id if joins.joinable(row) else None,
                relay_uri=row.uri if row.visibility == Visibility.PUBLIC else None,
                due=row.starts_at if row.kind == "call" else row.needed_by,
                coming=row.people_coming,
                wanted=row.people_wanted,
                reported_as=row.id,
            )
        )
    return entries


async def visible_remote(
    session: AsyncSession, member: LocalActor, remote_id: int, rules: Rules
) -> RemoteItem | None:
    """Another server's item, if this member's board shows it."""
    row = await session.get(RemoteItem, remote_id)
    actor = await session.get(RemoteActor, row.remote_actor_id) if row is not None else None
    if row is None or actor is None:
        return None
    followed_ids, followed_uris = await followed(session, await access.groups_of(session, member))
    return row if shows_remote(row, actor, followed_ids, followed_uris, rules) else None


async def visible_remote_call(
    session: AsyncSession, member: LocalActor, remote_id: int, rules: Rules
) -> RemoteItem:
    """Another server's scheduled call that this member's board shows, or 404."""
    row = await visible_remote(session, member, remote_id, rules)
    if row is None or not joins.joinable(row):
        raise HTTPException(404, NO_CALL)
    return row


def within(entries: list[Entry], near: tuple[float, float] | None, km: float) -> list[Entry]:
    if near is None:
        return entries
    measured = [
        Entry(**{**entry.__dict__, "distance_km": round(distance_km(near, entry.point), 1)})
        for entry in entries
        if entry.point is not None
    ]
    return [
        entry for entry in measured if entry.distance_km is not None and entry.distance_km <= km
    ]


async def group_places(session: AsyncSession, groups: list[LocalActor]) -> list[tuple[str, str]]:
    """Coarse places the member's groups have used: (label, "lat,lon") choices for the filter."""
    if not groups:
        return []
    rows = await session.execute(
        select(Item.place_name, Item.latitude, Item.longitude)
        .where(
            Item.group_id.in_([g.id for g in groups]),
            Item.latitude.is_not(None),
            Item.longitude.is_not(None),
            Item.place_name.is_not(None),
            Item.deleted_at.is_(None),
        )
        .distinct()
        .limit(50)
    )
    choices = {f"{lat:.4f},{lon:.4f}": name for name, lat, lon in rows.all() if name}
    return sorted(
        ((name, point) for point, name in choices.items()), key=lambda choice: choice[0].lower()
    )


async def board(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    query, errors = parse_query(request.query_params)
    async with runtime.sessions() as session:
        member = await access.member(request, session)
        groups = await access.groups_of(session, member)
        moderated = await access.groups_of(session, member, Role.MODERATOR)
        rules = await runtime.blocklist.rules()
        entries = await local_entries(session, query, groups) + await remote_entries(
            session, member, query, rules
        )
        places = await group_places(session, groups)
        joined = {
            row.remote_item_id: row
            for row in await session.scalars(
                select(OutgoingJoin).where(
                    OutgoingJoin.member_id == member.id, OutgoingJoin.state != joins.WITHDRAWN
                )
            )
        }
        local_slugs = set(await session.scalars(select(Category.slug).distinct()))
    entries = within(entries, query.near, query.within_km) if not errors else entries
    entries.sort(key=lambda entry: entry.posted or utcnow(), reverse=True)
    names = dict(DEFAULT_CATEGORIES)
    categories = [(slug, names.get(slug, slug)) for slug in sorted(set(names) | local_slugs)]
    return render(
        request,
        "board.html",
        {
            "entries": entries,
            "joined": joined,
            "my_groups": groups,
            "moderated": moderated,
            "me": member,
            "flash": flash.take(request),
            "query": query,
            "errors": errors,
            "places": places,
            "categories": categories,
            "category_names": dict(categories),
            "kinds": BOARD_KINDS,
            "near_text": (request.query_params.get("near") or "")[:64],
            "place_chosen": request.query_params.get("place") or "",
            "within_text": (request.query_params.get("within") or "")[:16],
        },
        status_code=400 if errors else 200,
    )


async def join(request: Request) -> Response:
    """ "I'm coming" to another server's call: as herself, or anonymously through her group."""
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    choice = str(form.get("as", "me"))[:64]
    async with runtime.sessions() as session, session.begin():
        member = await access.member(request, session)
        if not await access.groups_of(session, member):
            raise HTTPException(403, N_("Only members of a group here can say they are coming."))
        rules = await runtime.blocklist.rules()
        call = await visible_remote_call(session, member, request.path_params["id"], rules)
        group = None
        if choice != "me":
            group = next(
                (g for g in await access.groups_of(session, member) if g.username == choice),
                None,
            )
            if group is None:
                raise HTTPException(403, N_("You can only speak for a group you belong to."))
        await joins.join_remote_call(session, runtime, member, call, group=group)
        group_name = group.name if group else ""
    if group_name:
        flash.flash(request, JOINED_ANONYMOUSLY, group=group_name)
    else:
        flash.flash(request, JOINED)
    return RedirectResponse(f"/board#call-{call.id}", status_code=303)


async def leave(request: Request) -> Response:
    await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        member = await access.member(request, session)
        call = await session.get(RemoteItem, request.path_params["id"])
        if call is None:
            raise HTTPException(404, NO_CALL)
        await joins.leave_remote_call(session, runtime, member, call)
    flash.flash(request, LEFT)
    return RedirectResponse(f"/board#call-{call.id}", status_code=303)


routes = [
    Route("/board", board, methods=["GET"]),
    Route("/board/calls/{id:int}/join", join, methods=["POST"]),
    Route("/board/calls/{id:int}/leave", leave, methods=["POST"]),
]
