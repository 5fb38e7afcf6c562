"""The words of an item as people read them on Mastodon: content, an Event's summary, hashtags.

Mastodon shows a Note's `content` and an Event's name + `summary` + link, nothing else, so each
must stand on its own: the kind and title first (with the state when closed), the details, how
to help, then the hashtags. Dates are spelled out in the item's own timezone.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from federation.calls import count_line
from federation.markdown import render_markdown

if TYPE_CHECKING:
    from federation.items import Item
    from federation.places import Place

__all__ = ["content", "first_line", "hashtags", "summary", "tags", "when"]

_KIND_LABEL = {"ask": "Ask", "offer": "Offer", "call": "Solidarity call"}
_KIND_TAG = {"ask": "Ask", "offer": "Offer", "call": "SolidarityCall"}
_STATE_LABEL = {
    "fulfilled": "Fulfilled",
    "withdrawn": "Withdrawn",
    "expired": "Expired",
    "cancelled": "Cancelled",
    "done": "Done",
}
_INVITATION = {
    "ask": "Can you help?",
    "offer": "Would this help you?",
    "call": "Can you come?",
}
_WORD = re.compile(r"[^\W_]+")


def first_line(item: Item) -> str:
    """ "Ask: Nappies", or once closed "Fulfilled: Ask: Nappies"."""
    line = f"{_KIND_LABEL[item.kind]}: {item.title}"
    state = _STATE_LABEL.get(item.status)
    return f"{state}: {line}" if state else line


def content(item: Item) -> str:
    paragraphs = [f"<p>{escape(first_line(item))}</p>"]
    body = render_markdown(item.body_markdown)
    if body:
        paragraphs.append(body)
    details = _details(item)
    if details:
        paragraphs.append("<p>" + "<br>".join(escape(line) for line in details) + "</p>")
    handle = item.group_handle.lstrip("@")
    mention = (
        f'<span class="h-card" translate="no"><a href="{escape(item.group_uri)}" '
        f'class="u-url mention">@<span>{escape(handle)}</span></a></span>'
    )
    invitation = escape(_invitation(item))
    paragraphs.append(f"<p>{invitation}Reply or send a direct message to {mention}</p>")
    links = [
        f'<a href="{escape(href)}" class="mention hashtag" rel="tag">'
        f"#<span>{escape(name)}</span></a>"
        for name, href in hashtags(item)
    ]
    paragraphs.append("<p>" + " ".join(links) + "</p>")
    return "".join(paragraphs)


def summary(item: Item) -> str:
    """Plain text, one fact a line: Mastodon shows it under an Event's name, as is. A call's
    first line is its count in words ("12 of 20 coming: 8 more needed")."""
    lines = [first_line(item), *_details(item)]
    if item.kind == "call" and item.people_wanted and item.status == "scheduled":
        lines.insert(0, count_line(item.language, item.people_coming, item.people_wanted))
    lines.append(f"{_invitation(item)}Reply or send a direct message to {item.group_handle}")
    lines.append(" ".join(f"#{name}" for name, _ in hashtags(item)))
    return "\n".join(lines)


def tags(item: Item) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {"type": "Hashtag", "href": href, "name": f"#{name}"} for name, href in hashtags(item)
    ]
    if not item.posted_as_group:
        entries.append({"type": "Mention", "href": item.group_uri, "name": item.group_handle})
    return entries


def hashtags(item: Item) -> list[tuple[str, str]]:
    """(name, href) pairs: #MutualAid, the kind, the category; hrefs on the group's host."""
    names = ["MutualAid", _KIND_TAG[item.kind]]
    category = _camel(item.category.name) or _camel(item.category.slug)
    if category and category not in names:
        names.append(category)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(item.group_uri))
    return [(name, f"{origin}/tags/{name.lower()}") for name in names]


def when(start: datetime, end: datetime | None, timezone: str) -> str:
    """ "Saturday 5 December 2026, 10:00–13:00 (Europe/Madrid)"."""
    zone, label = _zone(timezone)
    start = start.astimezone(zone)
    text = f"{_day(start)}, {start:%H:%M}"
    if end is not None:
        end = end.astimezone(zone)
        text += f"–{end:%H:%M}" if end.date() == start.date() else f" – {_day(end)}, {end:%H:%M}"
    return f"{text} ({label})"


def _details(item: Item) -> list[str]:
    lines = []
    if item.kind == "call":
        assert item.starts_at is not None
        lines.append(f"When: {when(item.starts_at, item.ends_at, item.timezone)}")
        if item.place is not None:
            lines.append(f"Where: {_where(item.place)}")
        lines.append(
            f"People needed: {item.people_wanted} ({item.people_coming} of "
            f"{item.people_wanted} coming)"
        )
    else:
        if item.quantity is not None:
            lines.append(f"Quantity: {item.quantity}")
        if item.place is not None:
            lines.append(f"Where: {_where(item.place)}")
        if item.needed_by is not None:
            label = "Needed by" if item.kind == "ask" else "Available until"
            lines.append(f"{label}: {when(item.needed_by, None, item.timezone)}")
    lines.append(f"Category: {item.category.name}")
    return lines


def _invitation(item: Item) -> str:
    open_ = item.status in ("open", "scheduled")
    return f"{_INVITATION[item.kind]} " if open_ else "Questions? "


def _where(place: Place) -> str:
    radius = place.radius_m
    size = f"{radius} m" if radius < 1000 else f"{radius / 1000:g} km"
    return f"{place.name} (within {size})"


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _zone(name: str) -> tuple[ZoneInfo, str]:
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC"), "UTC"


def _camel(text: str) -> str:
    words = _WORD.findall(text)
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return name if any(not c.isdigit() for c in name) else ""
