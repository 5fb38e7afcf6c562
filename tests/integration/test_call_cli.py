"""The call commands (`ayni item rsvp|attendees|escalate|reveal`, `ayni escrow revoke|audit`),
called in-process on both databases, with a Mastodon-shaped follower to send links to. The
command line itself is run end to end in tests/integration/test_cli.py."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ayni import cli_calls
from ayni.commands import CommandError
from federation.itemterms import Kind, Status
from federation.places import Place
from federation.sanitize import html_to_text
from models import actors, escrow, posting
from models.actors import Role
from models.commitments import CallClosed, CallFull
from models.escrow import EscrowLink
from models.items import Item
from models.posting import Draft
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A = "http://127.0.0.1:8101"
GROUP = f"{A}/actors/food"
MEETING_POINT = "the blue door at Calle Mayor 7"


def test_durations_are_minutes_hours_or_days() -> None:
    assert cli_calls.duration("90m") == timedelta(minutes=90)
    assert cli_calls.duration("2h") == timedelta(hours=2)
    assert cli_calls.duration(" 1D ") == timedelta(days=1)
    for wrong in ("2 weeks", "h", "-1h", "1.5h", ""):
        with pytest.raises(CommandError, match="like 90m, 2h or 1d"):
            cli_calls.duration(wrong)


async def post(a: Instance, draft: Draft) -> Item:
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        return await posting.create_item(
            session, a.runtime.uris, group, ana, draft, seal=a.runtime.seal
        )


def call(title: str, needed: int, **fields: object) -> Draft:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return Draft(
        Kind.CALL,
        title,
        category="housing",
        as_group=True,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        people_wanted=needed,
        place=Place("Lavapiés"),
        **fields,  # type: ignore[arg-type]
    )


async def test_the_call_commands_commit_count_escalate_reveal_revoke_and_audit(net: Net) -> None:
    a = await net.instance(A)
    alice: MastodonPeer = net.peer("http://127.0.0.1:8201")
    assert (await alice.send(f"{A}/inbox", alice.follow(GROUP))).status_code == 202
    await settle(a)
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        rosa = await actors.create_member(session, "rosa", None, "Rosa Quispe")
        await actors.join_group(session, group, rosa, Role.MEMBER)
        await actors.create_member(session, "outsider")
    item = await post(a, call("Stop the eviction", 2, meeting_point=MEETING_POINT))
    full = await post(a, call("Carry the piano", 3, capacity=1))
    ask = await post(a, Draft(Kind.ASK, "Nappies", category="goods"))
    key = str(item.id)
    alice.received.clear()

    async def run(command: object, *args: object, **kwargs: object) -> object:
        async with a.runtime.sessions() as session, session.begin():
            return await command(session, a.runtime, *args, **kwargs)  # type: ignore[operator]

    # A member says she is coming, once
    said = await run(cli_calls.rsvp, key, "ana")
    assert said == f"@ana is coming to call {item.id}: 1 of 2 coming: 1 more needed"
    assert "(already)" in str(await run(cli_calls.rsvp, item.uri, "ana"))

    # One-line errors: an unknown member, someone not in the group, an item that is not a call,
    # a call that is full, a withdrawal by someone who had not said she was coming
    for args, error in (
        ((key, "zed"), "there is no member named 'zed'"),
        ((key, "outsider"), "@outsider is not a member of @food"),
        ((str(ask.id), "ana"), f"item {ask.id} is an ask, not a call"),
        (("999", "ana"), "there is no item 999"),
    ):
        with pytest.raises(CommandError, match=error):
            await run(cli_calls.rsvp, *args)
    await run(cli_calls.rsvp, str(full.id), "ana")
    with pytest.raises(CallFull, match="full"):
        await run(cli_calls.rsvp, str(full.id), "rosa")
    with pytest.raises(CommandError, match="had not said"):
        await run(cli_calls.rsvp, key, "rosa", cancel=True)

    # The ladder: what the next step would do, then doing it
    # (one of its two members is coming already: only the other is told)
    would = str(await run(cli_calls.escalate, key, dry_run=True))
    assert would.startswith("step 1 (dry run): would notify 1 member") and "1 of 2" in would
    did = str(await run(cli_calls.escalate, key))
    assert did.startswith("step 1: notified 1 member of @food in the app")

    # By hand: a link for a remote person who had not committed (counted as maybe), and for a
    # member, whose link is printed for the admin to hand over
    await settle(a)
    alice.received.clear()
    sent = str(await run(cli_calls.reveal, key, "@alice@127.0.0.1:8201"))
    assert sent == f"Sent @alice@127.0.0.1:8201 a personal link to call {item.id}'s meeting point."
    await settle(a)
    [dm] = [act["object"] for act in alice.received if act["type"] == "Create"]
    assert dm["to"] == [alice.actor_uri] and f"{A}/calls/{item.id}/where/" in dm["content"]
    assert html_to_text(dm["content"]).startswith("Thank you for coming to Stop the eviction")
    assert MEETING_POINT not in json.dumps(alice.received)
    printed = str(await run(cli_calls.reveal, key, "rosa"))
    assert f"{A}/calls/{item.id}/where/" in printed and "@rosa" in printed
    with pytest.raises(CommandError, match="not known here"):
        await run(cli_calls.reveal, key, "@bob@elsewhere.example")
    with pytest.raises(CommandError, match="has no meeting point"):
        await run(cli_calls.reveal, str(full.id), "rosa")

    # Who is coming, by which channel: counts for everyone, the list for the admin
    found = await run(cli_calls.attendees, key)
    assert isinstance(found, dict)
    assert {k: found[k] for k in ("coming", "maybe", "withdrawn", "needed", "missing")} == {
        "coming": 1,
        "maybe": 2,
        "withdrawn": 0,
        "needed": 2,
        "missing": 1,
    }
    assert [(r["who"], r["state"], r["channel"]) for r in found["attendees"]] == [
        ("ana", "coming", "cli"),
        (alice.actor_uri, "maybe", "cli"),
        ("rosa", "maybe", "cli"),
    ]
    assert cli_calls.attendees_text(found).startswith("coming 1, maybe 2, withdrawn 0")

    # Alice opens her link; the audit lists who got a link, when, and each view (no address)
    async with a.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        link = await session.scalar(select(EscrowLink).order_by(EscrowLink.id).limit(1))
        assert stored is not None and link is not None
        await escrow.record_view(session, stored, link=link)
    audit = await run(cli_calls.escrow_audit, key)
    assert isinstance(audit, dict)
    assert [(row["who"], len(row["views"]), row["revoked"]) for row in audit["links"]] == [
        (alice.actor_uri, 1, None),
        ("rosa", 0, None),
    ]
    assert set(audit["links"][0]) == {"who", "issued", "expires", "revoked", "views"}
    assert "viewed" in cli_calls.audit_text(audit)

    # Revoking Alice's link ends it and deletes her message
    alice.received.clear()
    revoked = await run(cli_calls.escrow_revoke, key, alice.actor_uri)
    assert revoked == f"1 link(s) of {alice.actor_uri} to call {item.id}'s meeting point revoked."
    await settle(a)
    [delete] = alice.received
    assert delete["type"] == "Delete" and delete["object"]["id"] == dm["id"]
    audit = await run(cli_calls.escrow_audit, key)
    assert isinstance(audit, dict) and audit["links"][0]["revoked"] is not None
    with pytest.raises(CommandError, match="no commitment"):
        await run(cli_calls.escrow_revoke, key, "https://nobody.example/u")

    # Once the number is reached the ladder has nothing to do
    await run(cli_calls.rsvp, key, "rosa")
    assert await run(cli_calls.escalate, key) == "nothing to do: 2 of 2 coming"
    withdrawn = str(await run(cli_calls.rsvp, key, "rosa", cancel=True))
    assert withdrawn.startswith(f"@rosa is no longer counted for call {item.id}: 1 of 2")

    # A closed call takes no commitment and no escalation
    async with a.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        assert stored is not None
        await posting.close_item(session, a.runtime.uris, stored, Status.CANCELLED)
    with pytest.raises(CallClosed, match="cancelled"):
        await run(cli_calls.rsvp, key, "rosa")
    with pytest.raises(CommandError, match="cancelled: nothing to escalate"):
        await run(cli_calls.escalate, key)

    # Nothing the group sent names the meeting point
    assert MEETING_POINT not in json.dumps(alice.received)
