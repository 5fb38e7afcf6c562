"""Asks, offers and solidarity calls on the wire (ARCHITECTURE.md §4).

Asks and offers are `Note`s, calls are FEP-8a8e `Event`s; both carry FEP-0837 (ValueFlows) terms
inline (`federation.itemterms.ITEM_CONTEXT`: Mastodon never fetches a context). Everything a
reader needs is in `content` and, for Events, in `summary`, which is what Mastodon shows; those
words are built in `federation.itemtext`. `from_ap` reads other servers' items back.
"""

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from federation import itemtext
from federation.errors import InvalidDocument
from federation.interaction_policy import published_policy
from federation.itemterms import (
    CLOSED,
    ITEM_CONTEXT,
    STATUSES,
    Category,
    Kind,
    Status,
    action_for,
)
from federation.places import Place, place_from_ap, place_to_ap
from federation.sanitize import html_to_text, sanitize_html
from federation.visibility import Visibility
from federation.vocab import (
    AS_CONTEXT,
    PUBLIC,
    as_list,
    attributed_to,
    audience_of,
    content_html,
    first,
    has_type,
    id_of,
    ids_of,
)

__all__ = [
    "CLOSED",
    "ITEM_CONTEXT",
    "POST",
    "Category",
    "Item",
    "Kind",
    "RemoteItem",
    "Status",
    "Visibility",
    "action_for",
    "from_ap",
    "item_tombstone",
    "post_from_ap",
    "to_ap",
]


@dataclass(frozen=True, slots=True)
class Item:
    """A local item as federation needs it: plain values, no database rows.

    When posted as the group, `author_uri` is the group's uri and nothing here may name the
    member; `uri` and `url` must then be minted under the group, never under the member.
    For calls, `place` is the public area: the exact meeting point is sealed
    (`models.escrow`) and never part of this value.
    """

    uri: str
    url: str
    kind: Kind
    title: str
    body_markdown: str
    category: Category
    status: Status
    visibility: Visibility
    author_uri: str
    group_uri: str
    group_handle: str  # "@name@host"
    group_followers_uri: str
    published: datetime
    updated: datetime | None = None
    quantity: int | None = None
    place: Place | None = None
    needed_by: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str = "UTC"
    people_wanted: int | None = None
    people_coming: int = 0
    in_reply_to: str | None = None
    language: str = "en"  # the group's: the count line of a call's summary

    def __post_init__(self) -> None:
        for name, enum in (("kind", Kind), ("status", Status), ("visibility", Visibility)):
            object.__setattr__(self, name, enum(getattr(self, name)))
        if self.visibility not in (Visibility.PUBLIC, Visibility.FOLLOWERS):
            raise ValueError("an item on the wire is public or followers-only")
        if self.status not in STATUSES[self.kind]:
            raise ValueError(f"a {self.kind} cannot be {self.status}")
        if not self.title.strip() or "\n" in self.title:
            raise ValueError("an item has a one-line title")
        if self.quantity is not None and self.quantity < 1:
            raise ValueError("a quantity is at least 1")
        if self.place is not None and not self.place.name.strip():
            raise ValueError("a place has a name")
        if self.status in CLOSED and self.updated is None:
            raise ValueError("a closed item says when it changed (updated)")
        for name in ("published", "updated", "needed_by", "starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.kind == Kind.CALL:
            if self.starts_at is None or self.people_wanted is None or self.people_wanted < 1:
                raise ValueError("a call has a start and a number of people wanted")
            if self.ends_at is not None and self.ends_at < self.starts_at:
                raise ValueError("a call ends after it starts")
        if self.people_coming < 0:
            raise ValueError("people_coming is not negative")

    @property
    def posted_as_group(self) -> bool:
        return self.author_uri == self.group_uri


def to_ap(item: Item) -> dict[str, Any]:
    """The Note (ask, offer) or Event (call) for Create and Update, `@context` included."""
    is_call = item.kind == Kind.CALL
    document: dict[str, Any] = {
        "@context": copy.deepcopy(ITEM_CONTEXT),  # callers may edit documents; never the constant
        "id": item.uri,
        "type": "Event" if is_call else "Note",
        "attributedTo": item.author_uri,
        "audience": item.group_uri,
        **_addressing(item),
        "url": item.url,
        "inReplyTo": item.in_reply_to,
        "published": _iso(item.published),
        "name": item.title,
    }
    if item.updated is not None:
        document["updated"] = _iso(item.updated)
    if is_call:
        document["summary"] = itemtext.summary(item)
    document["content"] = itemtext.content(item)
    document["source"] = {"content": item.body_markdown, "mediaType": "text/markdown"}
    document["tag"] = itemtext.tags(item)
    document["purpose"] = "offer" if item.kind == Kind.OFFER else "request"
    document["publishes"] = _intent(item)
    end = item.ends_at if is_call else item.needed_by
    if end is not None:
        document["hasEnd"] = _iso(end)
    if item.place is not None:
        document["location"] = place_to_ap(item.place)
    if is_call:
        assert item.starts_at is not None
        document["startTime"] = _iso(item.starts_at)
        if item.ends_at is not None:
            document["endTime"] = _iso(item.ends_at)
        document["timezone"] = item.timezone
        cancelled = item.status == Status.CANCELLED
        document["eventStatus"] = "EventCancelled" if cancelled else "EventScheduled"
        document["participantCount"] = item.people_coming
        # FEP-8a8e: how many, never who (attendance is not public).
        document["attendees"] = {
            "id": item.uri + "/attendees",
            "type": "Collection",
            "totalItems": item.people_coming,
        }
        document["peopleNeeded"] = item.people_wanted
    document["interactionPolicy"] = published_policy(
        author_uri=item.author_uri,
        group_uri=item.group_uri,
        audience=[PUBLIC if item.visibility == Visibility.PUBLIC else item.group_followers_uri],
    )
    return document


def item_tombstone(uri: str, deleted_at: datetime) -> dict[str, Any]:
    """The object of a Delete: what Mastodon expects in place of the removed item."""
    return {"@context": AS_CONTEXT, "id": uri, "type": "Tombstone", "deleted": _iso(deleted_at)}


def _addressing(item: Item) -> dict[str, list[str]]:
    # The group is in cc of every item: a member's item mentions it (so replies from Mastodon
    # reach it too), and Lemmy and Mbin find an item's community there (FEP-1b12). Mastodon
    # takes an actor in cc for a silent mention, which it does not show.
    if item.visibility == Visibility.PUBLIC:
        return {"to": [PUBLIC], "cc": [item.group_followers_uri, item.group_uri]}
    return {"to": [item.group_followers_uri], "cc": [item.group_uri]}


def _intent(item: Item) -> dict[str, Any]:
    amount = item.people_wanted if item.kind == Kind.CALL else item.quantity
    closed = item.status in CLOSED
    intent: dict[str, Any] = {
        "id": item.uri + "#intent",
        "type": "Intent",
        "action": action_for(item.kind, item.category),
        "resourceConformsTo": item.category.uri,
    }
    if amount is not None:
        intent["resourceQuantity"] = _quantity(amount)
    if item.kind == Kind.OFFER and (amount is not None or closed):
        intent["availableQuantity"] = _quantity(0 if closed or amount is None else amount)
    intent["finished"] = closed
    return intent


def _quantity(amount: int) -> dict[str, str]:
    return {"hasUnit": "one", "hasNumericalValue": str(amount)}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reading other servers' items ---


POST = "post"  # the kind of a board entry that is a plain post (a Lemmy or Mbin community's)


@dataclass(frozen=True, slots=True)
class RemoteItem:
    uri: str
    kind: str  # a Kind, or POST
    title: str
    status: Status
    author_uri: str
    visibility: Visibility
    url: str | None = None
    body_html: str = ""  # the whole content, sanitised to Mastodon's allowlist
    body_text: str = ""
    body_markdown: str | None = None  # `source`, when the sender kept its Markdown
    summary: str | None = None
    category_uri: str | None = None
    action: str | None = None
    quantity: int | None = None
    available_quantity: int | None = None
    finished: bool = False
    place: Place | None = None
    needed_by: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    people_wanted: int | None = None
    people_coming: int | None = None
    group_uri: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    in_reply_to: str | None = None


_ITEM_TYPES = ("Note", "Article", "Page", "Proposal", "Event")
_POST_TYPES = ("Note", "Article", "Page")
_MAX_TITLE = 200
_MAX_QUANTITY = 1_000_000_000
_STATUS_LINE = re.compile(r"^\s*(Fulfilled|Withdrawn|Expired|Cancelled|Done)\s*:\s*", re.IGNORECASE)
_KIND_LINE = re.compile(r"^\s*(?:Ask|Offer|Solidarity call)\s*:\s*", re.IGNORECASE)
_TIMEZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-/]{0,63}")


def from_ap(document: object) -> RemoteItem | None:
    """A structured item from another server, or None for an ordinary post.

    An `Event`, or a Note/Article/Page/Proposal with a FEP-0837 `purpose` of request or offer, is
    an item; everything else stays a plain post. Raises only InvalidDocument, for a document that
    is not an object or an item without an id or an author.
    """
    if not isinstance(document, dict):
        raise InvalidDocument("an item is a JSON object")
    if not has_type(document, *_ITEM_TYPES):
        return None
    purpose = _last_segment(first(document.get("purpose")))
    if has_type(document, "Event"):
        if _moment(first(document.get("startTime"))) is None:
            return None  # a call has a start: an Event without one is an ordinary post
        kind = Kind.CALL
    elif purpose in ("request", "offer"):
        kind = Kind.ASK if purpose == "request" else Kind.OFFER
    else:
        return None
    uri = id_of(document)
    authors = attributed_to(document)
    if uri is None or not authors:
        raise InvalidDocument("an item has an id and an author")
    content = content_html(document)
    body_html = sanitize_html(content) if content else ""
    body_text = html_to_text(body_html) if body_html else ""
    summary = _first_text(document.get("summary"), document.get("summaryMap"))
    summary_text = html_to_text(summary)[:2000] if summary else None
    first_line = _first_line(body_text) or _first_line(summary_text or "")
    name = _first_text(document.get("name"), document.get("nameMap"))
    title = _clip(name) or _title_from(first_line)
    if not title:
        raise InvalidDocument("an item has a title")
    intent = next((e for e in as_list(document.get("publishes"))[:8] if isinstance(e, dict)), {})
    finished = intent.get("finished") is True or intent.get("finished") == "true"
    amount = _amount(intent.get("resourceQuantity"))
    ends = _moment(first(document.get("hasEnd")))
    return RemoteItem(
        uri=uri,
        kind=kind,
        title=title,
        status=_status(kind, document, finished, first_line),
        author_uri=authors[0],
        visibility=_visibility(document),
        url=_url(document.get("url")),
        body_html=body_html,
        body_text=body_text,
        body_markdown=_markdown_source(document.get("source")),
        summary=summary_text,
        category_uri=id_of(first(intent.get("resourceConformsTo"))),
        action=_last_segment(first(intent.get("action"))),
        quantity=None if kind == Kind.CALL else amount,
        available_quantity=_amount(intent.get("availableQuantity")),
        finished=finished,
        place=place_from_ap(document.get("location")),
        needed_by=None if kind == Kind.CALL else ends,
        starts_at=_moment(first(document.get("startTime"))),
        ends_at=_moment(first(document.get("endTime"))) or (ends if kind == Kind.CALL else None),
        timezone=_timezone(first(document.get("timezone"))),
        people_wanted=(amount or _integer(first(document.get("maximumAttendeeCapacity"))) or None)
        if kind == Kind.CALL
        else None,
        people_coming=_integer(first(document.get("participantCount"))),
        group_uri=next(iter(ids_of(document.get("audience"))), None),
        published=_moment(first(document.get("published"))),
        updated=_moment(first(document.get("updated"))),
        in_reply_to=id_of(first(document.get("inReplyTo"))),
    )


def post_from_ap(document: object, group_uri: str | None = None) -> RemoteItem | None:
    """A plain post (a Page, Article or Note that is not a reply) as a board entry: its title is
    its `name` or its first line, its link its `url` or its id. None for anything else; raises
    InvalidDocument for a post without an id or an author. `group_uri`: the group it was
    shared by, when the post does not name one in `audience`."""
    if not isinstance(document, dict) or not has_type(document, *_POST_TYPES):
        return None
    if id_of(first(document.get("inReplyTo"))) is not None:
        return None
    uri = id_of(document)
    authors = attributed_to(document)
    if uri is None or not authors:
        raise InvalidDocument("a post has an id and an author")
    content = content_html(document)
    body_html = sanitize_html(content) if content else ""
    body_text = html_to_text(body_html) if body_html else ""
    name = _first_text(document.get("name"), document.get("nameMap"))
    title = _clip(name) or _clip(_first_line(body_text))
    if not title:
        raise InvalidDocument("a post has a title or some text")
    return RemoteItem(
        uri=uri,
        kind=POST,
        title=title,
        status=Status.OPEN,
        author_uri=authors[0],
        visibility=_visibility(document),
        url=_url(document.get("url")) or (uri if uri.startswith(("https://", "http://")) else None),
        body_html=body_html,
        body_text=body_text,
        group_uri=next(iter(ids_of(document.get("audience"))), group_uri),
        published=_moment(first(document.get("published"))),
        updated=_moment(first(document.get("updated"))),
    )


def _status(kind: Kind, document: dict[str, Any], finished: bool, first_line: str) -> Status:
    said = _STATUS_LINE.match(first_line)
    said_status = Status(said[1].lower()) if said else None
    if kind == Kind.CALL:
        event_status = _last_segment(first(document.get("eventStatus")))
        ical_status = first(document.get("ical:status"))
        if event_status == "EventCancelled" or ical_status == "CANCELLED":
            return Status.CANCELLED
        return Status.DONE if finished else Status.SCHEDULED
    if not finished:
        return Status.OPEN
    if said_status is not None and said_status in STATUSES[kind]:
        return said_status
    return Status.FULFILLED


def _visibility(document: dict[str, Any]) -> Visibility:
    audience = audience_of(document)
    if PUBLIC in audience:
        return Visibility.PUBLIC
    if any(uri.rstrip("/").endswith("/followers") for uri in audience):
        return Visibility.FOLLOWERS
    return Visibility.DIRECT


def _first_text(value: object, language_map: object) -> str | None:
    text = first(value)
    if isinstance(text, str) and text.strip():
        return text
    if isinstance(language_map, dict):
        return next((v for v in language_map.values() if isinstance(v, str) and v.strip()), None)
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _title_from(first_line: str) -> str | None:
    return _clip(_KIND_LINE.sub("", _STATUS_LINE.sub("", first_line), count=1))


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(html_to_text(text).split())
    return text[:_MAX_TITLE] or None


def _last_segment(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return re.split(r"[#:/]", value.strip())[-1][:100] or None


def _amount(value: object) -> int | None:
    quantity = first(value)
    if not isinstance(quantity, dict):
        return None
    return _integer(first(quantity.get("hasNumericalValue")))


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()[:20]
        try:
            value = float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= _MAX_QUANTITY:
        return value
    return None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.utcoffset() is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _timezone(value: object) -> str | None:
    return value if isinstance(value, str) and _TIMEZONE.fullmatch(value) else None


def _url(value: object) -> str | None:
    for entry in as_list(value)[:8]:
        href = entry.get("href") if isinstance(entry, dict) else entry
        if isinstance(href, str) and href.startswith(("https://", "http://")):
            return href
    return None


def _markdown_source(value: object) -> str | None:
    if isinstance(value, dict) and value.get("mediaType") == "text/markdown":
        text = value.get("content")
        return text if isinstance(text, str) else None
    return None
