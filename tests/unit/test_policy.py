"""Domain blocks as data: matching, names, and Mastodon's CSV block lists."""

import pytest

from models.policy import export_blocklist, is_blocked, normalise_domain, parse_blocklist_csv
from models.queue import DomainBlock

MASTODON_EXPORT = """\
#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate,#extra_column
spam.example,suspend,true,true,Spam and harassment,false,whatever
Nazi.Example.,suspend,false,false,,false,
quiet.example,silence,false,false,noisy,false,
# a comment line
not a domain!,suspend,,,,,

bücher.example,suspend,true,true,"comment, with comma",false,
"""


def test_a_mastodon_export_imports_blocks_and_reports_bad_rows() -> None:
    wanted, problems = parse_blocklist_csv(MASTODON_EXPORT)

    assert wanted == [
        ("spam.example", "Spam and harassment"),
        ("nazi.example", ""),
        ("xn--bcher-kva.example", "comment, with comma"),
    ]
    assert len(problems) == 2
    assert problems[0].startswith("line 4: quiet.example: severity 'silence'")
    assert problems[1].startswith("line 6: 'not a domain!' is not a domain name")


def test_a_plain_list_of_domains_imports_too() -> None:
    wanted, problems = parse_blocklist_csv("bad.example\n*.worse.example\n")

    assert wanted == [("bad.example", ""), ("worse.example", "")]
    assert problems == []


def test_export_is_mastodon_shaped_and_imports_back() -> None:
    text = export_blocklist([DomainBlock(domain="spam.example", reason="spam, lots")])

    assert (
        text.splitlines()[0]
        == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"
    )
    assert parse_blocklist_csv(text) == ([("spam.example", "spam, lots")], [])


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "sub.evil.example:8443",
        "EVIL.example.",
        "a.b.evil.example",
        "evil.example.",
        "spam.test:80",
    ],
)
def test_blocks_cover_subdomains(host: str) -> None:
    assert is_blocked(host, {"evil.example", "spam.test"})


@pytest.mark.parametrize(
    "host", ["notevil.example", "evil.example.org", "example", "[::1]:8080", "127.0.0.1:8201"]
)
def test_blocks_do_not_cover_lookalikes(host: str) -> None:
    assert not is_blocked(host, {"evil.example", "spam.test"})


def test_an_ip_address_can_be_blocked() -> None:
    assert is_blocked("127.0.0.1:8201", frozenset({"127.0.0.1"}))
    assert is_blocked("[::1]:8080", frozenset({"::1"}))


@pytest.mark.parametrize(
    "text", ["", ".", "a..b", "exa mple.org", "-" * 64 + ".org", "http://x.org"]
)
def test_bad_domains_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalise_domain(text)
