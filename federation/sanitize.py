"""Remote HTML cut down to what Mastodon keeps, so a post looks the same here as there.

Mirrors Mastodon's strict sanitizer config (lib/sanitize_ext/sanitize_config.rb): its elements,
microformat classes, link schemes, forced rel, headings shown as bold paragraphs, and links with
an unsupported or relative href turned into plain text.
"""

import re
from functools import cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nh3

__all__ = ["LINK_REL", "LINK_SCHEMES", "TAGS", "html_to_text", "sanitize_html"]

TAGS = frozenset(
    {
        "p",
        "br",
        "span",
        "a",
        "del",
        "s",
        "pre",
        "code",
        "em",
        "strong",
        "b",
        "i",
        "u",
        "ul",
        "ol",
        "li",
        "blockquote",
        "ruby",
        "rt",
        "rp",
    }
)
LINK_SCHEMES = frozenset(
    {
        "http",
        "https",
        "dat",
        "dweb",
        "ipfs",
        "ipns",
        "ssb",
        "gopher",
        "xmpp",
        "magnet",
        "gemini",
    }
)
LINK_REL = "nofollow noopener noreferrer"

_HEADINGS = frozenset(f"h{n}" for n in range(1, 7))
# Dropped with everything inside them: their text is code, styling or fallback, never prose.
_CONTENT_DROPPED = frozenset(
    {
        "script",
        "style",
        "iframe",
        "noembed",
        "noframes",
        "noscript",
        "plaintext",
        "svg",
        "xmp",
        "template",
        "textarea",
        "title",
    }
)
_ATTRIBUTES = {
    "*": {"lang"},
    "a": {"href", "class", "translate"},
    "span": {"class", "translate"},
    "p": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
_KEPT_CLASS = re.compile(
    r"(?:(?:h|p|u|dt|e)-[\w-]*|mention|hashtag|ellipsis|invisible|quote-inline)", re.ASCII
)
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.\-]*):")
_LANG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_INTEGER = re.compile(r"-?\d{1,9}")
_HEADING_TAG = re.compile(r"<(/?)h[1-6]>")
# Matches only what our own cleaner emits: an <a> left without href (its attributes are all
# filtered to safe tokens) and, since HTML never nests links, the next </a> closes it.
_HREFLESS_LINK = re.compile(
    r'<a((?: (?:rel|target|class|translate|lang)="[^"]*")*)>(.*?)</a>', re.DOTALL
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize_html(html: str) -> str:
    if not isinstance(html, str) or not html:
        return ""
    cleaned = _cleaner().clean(html)
    cleaned = _HEADING_TAG.sub(lambda m: "</strong></p>" if m[1] else "<p><strong>", cleaned)
    return _HREFLESS_LINK.sub(r"\2", cleaned)


def html_to_text(html: str) -> str:
    """Plain text for summaries, notifications and the terminal: no markup, no control codes."""
    reader = _TextReader()
    reader.feed(sanitize_html(html))
    reader.close()
    text = _CONTROL.sub("", "".join(reader.parts))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@cache
def _cleaner() -> "nh3.Cleaner":
    import nh3  # on first use: an idle process need not hold it

    return nh3.Cleaner(
        tags=TAGS | _HEADINGS,
        clean_content_tags=_CONTENT_DROPPED,
        attributes=_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=LINK_SCHEMES,
        url_relative="deny",
    )


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    if name == "class":
        kept = [c for c in value.split() if _KEPT_CLASS.fullmatch(c)]
        return " ".join(kept) or None
    if name == "href":
        match = _SCHEME.match(value)
        return value if match and match[1].lower() in LINK_SCHEMES else None
    if name == "translate":
        return "no" if value.strip().lower() == "no" else None
    if name == "lang":
        return value if _LANG.fullmatch(value) else None
    if name in ("start", "value"):
        return value.strip() if _INTEGER.fullmatch(value.strip()) else None
    if name == "reversed":
        return ""
    # The filter also sees the attributes the cleaner adds itself; those stay as it set them.
    if (tag, name) in (("a", "rel"), ("a", "target")):
        return value
    return None


_BLOCK_ENDS = {"p": "\n\n", "blockquote": "\n\n", "pre": "\n\n", "ul": "\n\n", "ol": "\n\n"}


class _TextReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(_BLOCK_ENDS.get(tag, ""))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
