from models.policy import is_blocked
from outbox.fanout import Recipient, Target, fan_out


def follower(host: str, name: str, shared: bool = True) -> Recipient:
    uri = f"https://{host}/users/{name}"
    return Recipient(uri, f"{uri}/inbox", f"https://{host}/inbox" if shared else None)


def test_followers_on_one_server_share_one_inbox() -> None:
    targets = fan_out(
        "Create", [follower("a.example", n) for n in ("x", "y", "z")], own_host="us.example"
    )
    assert targets == [Target("https://a.example/inbox", "a.example")]


def test_a_follower_without_shared_inbox_gets_its_own() -> None:
    targets = fan_out(
        "Create",
        [follower("a.example", "x"), follower("a.example", "y", shared=False)],
        own_host="us",
    )
    assert [t.inbox_uri for t in targets] == [
        "https://a.example/inbox",
        "https://a.example/users/y/inbox",
    ]


def test_our_own_host_is_skipped() -> None:
    assert fan_out("Create", [follower("us.example", "x")], own_host="us.example") == []


def test_blocked_domains_and_their_subdomains_get_nothing() -> None:
    recipients = [
        follower("bad.example", "x"),
        follower("eu.bad.example", "y"),
        follower("notbad.example", "z"),
    ]
    targets = fan_out("Create", recipients, own_host="us", blocked_domains={"bad.example"})
    assert [t.host for t in targets] == ["notbad.example"]


def test_blocked_domains_get_no_handshakes_either() -> None:
    assert (
        fan_out(
            "Accept", [follower("bad.example", "x")], own_host="us", blocked_domains={"BAD.example"}
        )
        == []
    )


def test_unavailable_hosts_are_skipped_except_for_handshakes() -> None:
    recipients = [follower("down.example", "x")]
    assert fan_out("Create", recipients, own_host="us", unavailable_hosts={"down.example"}) == []
    for kind in ("Follow", "Accept", "Reject", "Undo"):
        assert (
            len(fan_out(kind, recipients, own_host="us", unavailable_hosts={"down.example"})) == 1
        )


def test_block_matching_ignores_ports_but_not_lookalikes() -> None:
    assert is_blocked("bad.example:8443", {"bad.example"})
    assert not is_blocked("evilbad.example", {"bad.example"})
