"""Matching: for an open ask, the open offers that could meet it, and for an open offer, the
open asks it could meet, here and on the group's network board.

Shown only to the item's author and its group's moderators, and never federated: a list of
matches is nobody's document. Candidates are only what the item's group already sees
(`models.board`, the board's one rule), so matching reveals no item to anyone new.

The rule: a candidate's category is the item's own category (same URI), or the item's category
is a default one and the candidate's shared concept is its concept (`models.taxonomy`): an ask
in "food" is met by offers in "food" or in any group's category narrower than food, on any
instance; an ask in a group's own "baby_food" only by offers in that very category.

Distance is measured between coarse places (an exact point is never stored). Candidates farther
than `within_km` are left out; when the item or the candidate has no place, the distance is
unknown and the candidate is kept, after every measured one (a place is optional, and an offer
of advice or money may have none).
"""

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from federation.itemterms import CLOSED, Kind
from federation.places import distance_km
from federation.vocab import host_of
from models.actors import LocalActor
from models.board import followed, shows_local, shows_remote
from models.items import Category, Item, RemoteItem
from models.policy import Rules
from models.remote import RemoteActor
from models.taxonomy import concept_of, is_general

WITHIN_KM = 25.0
CAP = 20
READ = 500  # newest rows read from each side before the rule and the distance
OPPOSITE = {Kind.ASK: Kind.OFFER, Kind.OFFER: Kind.ASK}
Point = tuple[float, float]


@dataclass(frozen=True)
class Candidate:
    uri: str
    link: str
    title: str
    kind: str
    group: str  # the group's name, or its host for a remote group without one
    local: bool
    point: Point | None
    recipient_uri: str | None = None  # remote: who posted it, to whom an introduction goes
    distance_km: float | None = None


def same_concept(category: Category, uri: str | None, concept: str | None) -> bool:
    """Whether a candidate whose category is `uri`, of shared concept `concept`, is of the same
    concept as `category` or a narrower one."""
    if uri is not None and uri == category.uri:
        return True
    return is_general(category) and concept is not None and concept == concept_of(category)


def nearest(
    candidates: list[Candidate], point: Point | None, within_km: float, cap: int
) -> list[Candidate]:
    """Those within `within_km` of `point`, nearest first, then those whose distance is unknown
    (in the order given); at most `cap`."""
    measured, unknown = [], []
    for candidate in candidates:
        if point is None or candidate.point is None:
            unknown.append(candidate)
            continue
        km = round(distance_km(point, candidate.point), 1)
        if km <= within_km:
            measured.append(replace(candidate, distance_km=km))
    measured.sort(key=lambda candidate: candidate.distance_km or 0.0)
    return (measured + unknown)[:cap]


def _point(latitude: float | None, longitude: float | None) -> Point | None:
    return (latitude, longitude) if latitude is not None and longitude is not None else None


def open_to_matching(item: Item) -> bool:
    return item.kind in OPPOSITE and item.status not in CLOSED and item.deleted_at is None


async def matches(
    session: AsyncSession,
    item: Item,
    rules: Rules,
    *,
    within_km: float = WITHIN_KM,
    cap: int = CAP,
) -> list[Candidate]:
    """The candidates for an open ask or offer; none for anything else."""
    if not open_to_matching(item):
        return []
    group = await session.get_one(LocalActor, item.group_id)
    category = await session.get_one(Category, item.category_id)
    wanted = str(OPPOSITE[Kind(item.kind)])
    found = await _local(session, item, group, category, wanted)
    found += await _remote(session, group, category, wanted, rules)
    return nearest(found, _point(item.latitude, item.longitude), within_km, cap)


async def _local(
    session: AsyncSession, item: Item, group: LocalActor, category: Category, wanted: str
) -> list[Candidate]:
    rows = await session.execute(
        select(Item, Category, LocalActor)
        .join(Category, Category.id == Item.category_id)
        .join(LocalActor, LocalActor.id == Item.group_id)
        .where(
            shows_local([group]),
            Item.kind == wanted,
            Item.id != item.id,
            Item.deleted_at.is_(None),
            Item.status.not_in([str(s) for s in CLOSED]),
        )
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(READ)
    )
    return [
        Candidate(
            uri=other.uri,
            link=f"/items/{other.uuid}",
            title=other.title,
            kind=other.kind,
            group=owner.name or f"@{owner.username}",
            local=True,
            point=_point(other.latitude, other.longitude),
        )
        for other, its_category, owner in rows.all()
        if same_concept(category, its_category.uri, concept_of(its_category))
    ]


async def _remote(
    session: AsyncSession, group: LocalActor, category: Category, wanted: str, rules: Rules
) -> list[Candidate]:
    followed_ids, followed_uris = await followed(session, [group])
    group_actor = aliased(RemoteActor)  # the author may be a member: name her group
    rows = await session.execute(
        select(RemoteItem, RemoteActor, group_actor)
        .join(RemoteActor, RemoteActor.id == RemoteItem.remote_actor_id)
        .outerjoin(group_actor, group_actor.uri == RemoteItem.group_uri)
        .where(RemoteItem.kind == wanted, RemoteItem.status.not_in([str(s) for s in CLOSED]))
        .order_by(RemoteItem.received_at.desc(), RemoteItem.id.desc())
        .limit(READ)
    )
    return [
        Candidate(
            uri=row.uri,
            link=row.url if row.url and row.url.startswith(("https://", "http://")) else row.uri,
            title=row.title,
            kind=row.kind,
            group=(owner.name if owner else None) or host_of(row.group_uri or actor.uri) or "",
            local=False,
            point=_point(row.latitude, row.longitude),
            recipient_uri=actor.uri,
        )
        for row, actor, owner in rows.all()
        if shows_remote(row, actor, followed_ids, followed_uris, rules)
        and same_concept(category, row.category_uri, row.concept)
    ]


async def candidate(session: AsyncSession, item: Item, uri: str, rules: Rules) -> Candidate | None:
    """One of the item's candidates, by uri, as `matches` finds it now (or None)."""
    found = await matches(session, item, rules, cap=READ)
    return next((c for c in found if c.uri == uri), None)
