"""Remote HTML keeps exactly what Mastodon keeps; nothing executable survives."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.sanitize import LINK_REL, html_to_text, sanitize_html

MASTODON_MENTION = (
    '<p><span class="h-card" translate="no">'
    '<a href="https://mamot.fr/@retiolus" class="u-url mention">'
    "@<span>retiolus</span></a></span> hello</p>"
)


def test_a_mastodon_post_keeps_its_markup_and_microformats() -> None:
    cleaned = sanitize_html(MASTODON_MENTION)

    assert cleaned == (
        '<p><span class="h-card" translate="no">'
        '<a href="https://mamot.fr/@retiolus" class="u-url mention" '
        f'target="_blank" rel="{LINK_REL}">@<span>retiolus</span></a></span> hello</p>'
    )


def test_mastodon_link_shortening_classes_survive() -> None:
    html = (
        '<a href="https://example.org/long/path"><span class="invisible">https://</span>'
        '<span class="ellipsis">example.org/lo</span><span class="invisible">ng/path</span></a>'
    )

    cleaned = sanitize_html(html)

    assert '<span class="invisible">https://</span>' in cleaned
    assert '<span class="ellipsis">example.org/lo</span>' in cleaned


@pytest.mark.parametrize(
    "tag",
    ["p", "span", "del", "s", "pre", "code", "em", "strong", "b", "i", "u", "blockquote", "ruby"],
)
def test_allowed_elements_are_kept(tag: str) -> None:
    assert sanitize_html(f"<{tag}>x</{tag}>") == f"<{tag}>x</{tag}>"


def test_lists_and_line_breaks_are_kept() -> None:
    assert (
        sanitize_html("<ul><li>a</li></ul><ol><li>b<br>c</li></ol>")
        == "<ul><li>a</li></ul><ol><li>b<br>c</li></ol>"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<div>x</div>", "x"),
        ("<table><tr><td>x</td></tr></table>", "x"),
        ('<img src="https://x.example/a.png" alt="a">x', "x"),
        ("<form><input value=1><button>x</button></form>", "x"),
        ("<marquee>x</marquee>", "x"),
        ("<!-- hidden -->x", "x"),
    ],
)
def test_other_elements_lose_their_tags_but_keep_their_text(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>ok",
        "<style>p { color: red }</style>ok",
        "<iframe src='https://evil.example'>fallback</iframe>ok",
        "<svg><script>alert(1)</script><text>drawing</text></svg>ok",
        "<noscript>enable js</noscript>ok",
        "<template><p>inert</p></template>ok",
        "<SCRIPT>alert(1)</SCRIPT>ok",
    ],
)
def test_scripts_styles_and_embeds_are_removed_with_their_contents(html: str) -> None:
    assert sanitize_html(html) == "ok"


def test_headings_become_bold_paragraphs_as_mastodon_shows_them() -> None:
    assert sanitize_html('<h1 class="h-title">Need</h1><h3>Help</h3>') == (
        "<p><strong>Need</strong></p><p><strong>Help</strong></p>"
    )


@pytest.mark.parametrize(
    "href",
    [
        "https://example.org/",
        "http://example.org/",
        "HTTPS://EXAMPLE.ORG/",
        "gemini://example.org/",
        "xmpp:ana@example.org",
        "magnet:?xt=urn:btih:abc",
        "ipfs://bafy",
        "dat://abc",
        "gopher://example.org/",
    ],
)
def test_links_with_mastodons_schemes_are_kept(href: str) -> None:
    cleaned = sanitize_html(f'<a href="{href}">link</a>')

    assert f'href="{href}"' in cleaned


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java&#x09;script:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "mailto:ana@example.org",
        "/relative/path",
        "//evil.example/x",
        "#fragment",
        "ftp://example.org/",
    ],
)
def test_links_with_other_or_relative_hrefs_become_plain_text(href: str) -> None:
    cleaned = sanitize_html(f'<p>see <a href="{href}" class="mention">the <b>link</b></a>!</p>')

    assert cleaned == "<p>see the <b>link</b>!</p>"


def test_link_rel_and_target_are_forced_whatever_the_sender_said() -> None:
    cleaned = sanitize_html('<a href="https://x.example/" rel="me tag" target="_self">x</a>')

    assert cleaned == f'<a href="https://x.example/" target="_blank" rel="{LINK_REL}">x</a>'


def test_only_microformat_and_mastodon_classes_are_kept() -> None:
    html = (
        '<p class="h-entry e-content evil">'
        '<span class="p-name mention hashtag quote-inline big-red">x</span>'
        '<a href="https://x.example/" class="u-url dt-published button">y</a></p>'
    )

    cleaned = sanitize_html(html)

    assert '<p class="h-entry e-content">' in cleaned
    assert '<span class="p-name mention hashtag quote-inline">' in cleaned
    assert 'class="u-url dt-published"' in cleaned
    assert "evil" not in cleaned and "big-red" not in cleaned and "button" not in cleaned


def test_class_attributes_with_nothing_left_are_dropped() -> None:
    assert sanitize_html('<span class="evil">x</span>') == "<span>x</span>"


def test_classes_are_not_kept_on_elements_mastodon_does_not_allow_them_on() -> None:
    assert sanitize_html('<em class="h-card">x</em>') == "<em>x</em>"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p style="color:red" id="x" onclick="alert(1)" title="t">x</p>', "<p>x</p>"),
        ('<span translate="yes">x</span>', "<span>x</span>"),
        ('<p lang="pt-BR">x</p>', '<p lang="pt-BR">x</p>'),
        ('<p lang="en&quot; onclick=&quot;x">x</p>', "<p>x</p>"),
        (
            '<ol start="3" reversed><li value="7">x</li></ol>',
            '<ol start="3" reversed=""><li value="7">x</li></ol>',
        ),
        ('<ol start="x"><li value="1e9">x</li></ol>', "<ol><li>x</li></ol>"),
    ],
)
def test_attributes_follow_mastodons_allowlist(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected


def test_text_is_escaped_not_interpreted() -> None:
    assert sanitize_html("1 &lt; 2 &amp;&amp; <p>a&gt;b</p>") == "1 &lt; 2 &amp;&amp; <p>a&gt;b</p>"


@pytest.mark.parametrize("value", ["", None, 42])
def test_empty_or_non_text_input_gives_empty_output(value: object) -> None:
    assert sanitize_html(value) == ""  # type: ignore[arg-type]


def test_sanitising_is_idempotent_on_a_real_post() -> None:
    once = sanitize_html(MASTODON_MENTION + "<h2>t</h2><a href='/x'>y</a>")

    assert sanitize_html(once) == once


# --- html_to_text ---


def test_plain_text_keeps_words_and_paragraph_breaks() -> None:
    html = (
        "<p>Need <b>rice</b> &amp; beans</p><p>line one<br>line two</p>"
        "<ul><li>a</li><li>b</li></ul><p>end</p>"
    )

    assert html_to_text(html) == "Need rice & beans\n\nline one\nline two\n\na\nb\n\nend"


def test_plain_text_keeps_the_full_url_of_shortened_links() -> None:
    html = (
        '<p><a href="https://example.org/long/path"><span class="invisible">https://</span>'
        '<span class="ellipsis">example.org/lo</span><span class="invisible">ng/path</span></a></p>'
    )

    assert html_to_text(html) == "https://example.org/long/path"


def test_plain_text_drops_scripts_and_terminal_control_codes() -> None:
    assert html_to_text("<script>alert(1)</script><p>\x1b[31mred\x07 text</p>") == "[31mred text"


def test_plain_text_of_nothing_is_empty() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<p></p><br>") == ""


# --- properties ---

FRAGMENTS = [
    "<script>",
    "</script>",
    "<a href=",
    "javascript:",
    "java\tscript:",
    "&#106;avascript:",
    "<img src=x onerror=",
    "alert(1)",
    "style=",
    '"',
    "'",
    ">",
    "<",
    "<svg onload=",
    "<p>",
    "</p>",
    "<iframe",
    "on",
    "error",
    "<style>",
    "expression(",
    "<math>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<base href=",
    "data:",
    "&lt;",
    '<span class="',
    "h-",
    "mention",
    " ",
    "\n",
    "\x00",
    "&#x3C;script&#x3E;",
]

html_soup = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=30).map("".join)


def _assert_inert(cleaned: str) -> None:
    # Text may mention "javascript:" or "onerror" harmlessly; markup may not.
    lowered = cleaned.lower()
    assert "<script" not in lowered and "<style" not in lowered
    assert "<iframe" not in lowered and "<img" not in lowered and "<svg" not in lowered
    for tag in re.findall(r"<[^>]*>", lowered):
        assert "javascript:" not in tag
        assert "onerror" not in tag
        assert not re.search(r"\sstyle=", tag)
        assert not re.search(r"\son\w+=", tag)
        assert re.fullmatch(r"</?[a-z0-9]+(?: [a-z]+=\"[^\"]*\")*>", tag), tag


@given(html_soup)
@settings(max_examples=300)
def test_sanitised_html_is_never_executable(html: str) -> None:
    _assert_inert(sanitize_html(html))


@given(st.text(max_size=300))
def test_sanitised_arbitrary_text_is_never_executable(html: str) -> None:
    _assert_inert(sanitize_html(html))


@given(html_soup)
def test_sanitising_twice_changes_nothing(html: str) -> None:
    once = sanitize_html(html)

    assert sanitize_html(once) == once


@given(html_soup)
def test_plain_text_has_no_control_codes(html: str) -> None:
    text = html_to_text(html)

    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
