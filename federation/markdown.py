"""Members write Markdown; what goes out is HTML within Mastodon's allowlist."""

import re
from functools import cache
from typing import TYPE_CHECKING

from federation.sanitize import sanitize_html

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["render_markdown"]

# markdown-it puts a newline after block tags and <br>; Mastodon's HTML has none, and readers that
# keep text-node newlines (html_to_text) would show each as an extra blank line.
_BLOCK_NEWLINE = re.compile(r"(<br ?/?>|</?(?:p|ul|ol|li|blockquote|h[1-6])>|</pre>|<hr ?/?>)\n")


def render_markdown(text: str) -> str:
    """CommonMark with raw HTML off and single newlines kept, then Mastodon's sanitiser.

    Images are left as their Markdown source: Mastodon drops <img>, alt text and all.
    """
    if not text.strip():
        return ""
    html = _BLOCK_NEWLINE.sub(r"\1", _renderer().render(text))
    return sanitize_html(html).strip()


@cache
def _renderer() -> "MarkdownIt":
    from markdown_it import MarkdownIt  # on first use: an idle process need not hold it

    options = {"html": False, "breaks": True, "linkify": False}
    return MarkdownIt("commonmark", options).disable("image")
