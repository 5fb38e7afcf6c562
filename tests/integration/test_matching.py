"""Matching across instances over real signed HTTP, on both databases: an ask on A is shown the
offers of B that could meet it (same concept, within the distance) on its page and by `ayni
match`, to its author and the group's moderators only, and nowhere public; members-only and
followers-only offers are suggested only to a group that already sees them. "Introduce" sends B
one direct message that names neither the author nor the place, and the contact is sent, once,
only after B answers it."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from ayni import following
from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import actors, conversations, posting, taxonomy
from models.actors import Role
from models.content import RemoteObject
from models.conversations import Conversation, ConversationMessage
from models.introductions import Introduction
from models.items import Item
from models.posting import Draft
from models.queue import Activity, Alert
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.integration.test_web_my_items import browser
from tests.web import PASSWORD, csrf

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
LAVAPIES = (40.4087, -3.7003)
CHAMBERI = (40.4346, -3.7035)  # about 3 km north
USERA = (40.3300, -3.7200)  # about 9 km south
BARCELONA = (41.3874, 2.1686)


async def post(
    instance: Instance,
    kind: Kind,
    title: str,
    *,
    group: str = "food",
    author: str = "ana",
    category: str = "food",
    at: tuple[float, float] | None = CHAMBERI,
    visibility: Visibility = Visibility.PUBLIC,
    as_group: bool = True,
) -> Item:
    async with instance.runtime.sessions() as session, session.begin():
        found = await actors.find_actor(session, group)
        member = await actors.find_actor(session, author)
        assert found is not None and member is not None
        draft = Draft(
            kind,
            title,
            category=category,
            visibility=visibility,
            as_group=as_group,
            place=Place("Lavapiés" if at == LAVAPIES else "Somewhere", *at) if at else None,
        )
        return await posting.create_item(
            session, instance.runtime.uris, found, member, draft, confirm=True
        )


async def people(a: Instance) -> None:
    """On A: ben (who posts the ask) and dani are members of food, carol its moderator; tools is
    another group, whose moderator is tess."""
    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        tools = await actors.create_group(session, "tools", "Tool Library", "Borrow a drill.")
        for name, group, role in (
            ("ben", food, Role.MEMBER),
            ("dani", food, Role.MEMBER),
            ("carol", food, Role.MODERATOR),
            ("tess", tools, Role.MODERATOR),
        ):
            member = await actors.create_member(session, name, PASSWORD, name.title())
            await actors.join_group(session, group, member, role)


def match_cli(instance: Instance, group: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_")}
    env |= {
        "AYNI_CONFIG": str(tmp / "none.toml"),
        "AYNI_BASE_URL": instance.settings.base_url,
        "AYNI_DATABASE_URL": instance.settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "ayni", "match", group, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def page(instance: Instance, item: Item, username: str | None) -> str:
    async with browser(instance, username) as http:
        response = await http.get(f"/items/{item.uuid}")
        assert response.status_code == 200
        return response.text


async def world(net: Net) -> tuple[Instance, Instance, dict[str, Item]]:
    """A's food follows B's food; B posts offers, A's tools group posts some too."""
    a, b = await net.instance(A), await net.instance(B)
    await people(a)
    await following.follow_handle(a.runtime, "food", f"@food@{B.removeprefix('http://')}")
    await settle(a, b)
    posted = {
        "pot": await post(b, Kind.OFFER, "Soup pot to lend"),
        "far": await post(b, Kind.OFFER, "Soup in Barcelona", at=BARCELONA),
        "bike": await post(b, Kind.OFFER, "A bike to lend", category="transport"),
        "followers": await post(
            b, Kind.OFFER, "Stew for followers", visibility=Visibility.FOLLOWERS
        ),
        "tools_members": await post(
            a,
            Kind.OFFER,
            "Members-only jam",
            group="tools",
            author="tess",
            visibility=Visibility.MEMBERS,
        ),
        "tools_followers": await post(
            a,
            Kind.OFFER,
            "Followers-only bread",
            group="tools",
            author="tess",
            visibility=Visibility.FOLLOWERS,
        ),
        "tools_public": await post(
            a, Kind.OFFER, "Public lentils", group="tools", author="tess", at=USERA
        ),
    }
    await settle(a, b)
    assert await taxonomy.map_due(a.runtime)  # B's categories, read once, as the job does
    posted["ask"] = await post(a, Kind.ASK, "Need soup for ten", author="ben", at=LAVAPIES)
    posted["tools_ask"] = await post(
        a, Kind.ASK, "Tools need soup too", group="tools", author="tess", at=LAVAPIES
    )
    await settle(a, b)
    return a, b, posted


async def test_matches_are_shown_to_the_author_and_moderators_only_and_nowhere_public(
    net: Net, tmp_path: Path
) -> None:
    a, _, posted = await world(net)
    ask = posted["ask"]

    for who in ("ben", "carol"):  # the author, the group's moderator
        shown = await page(a, ask, who)
        assert "Possible matches" in shown
        assert "Soup pot to lend" in shown and "Stew for followers" in shown
        assert "Public lentils" in shown  # another local group's public offer
        assert shown.index("Soup pot to lend") < shown.index("Public lentils")  # nearest first
        for absent in ("Soup in Barcelona", "A bike to lend", "Members-only jam"):
            assert absent not in shown
        assert "Followers-only bread" not in shown  # food cannot follow tools here
    for who in ("dani", None):  # a member who does not moderate, and anyone
        shown = await page(a, ask, who)
        assert "Need soup for ten" in shown
        assert "Possible matches" not in shown and "Soup pot to lend" not in shown

    # tools does not follow B: B's followers-only offer is not suggested to it; public ones are.
    tools_page = await page(a, posted["tools_ask"], "tess")
    assert "Soup pot to lend" in tools_page and "Stew for followers" not in tools_page

    result = await asyncio.to_thread(match_cli, a, "food", tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {row["uuid"]: row for row in json.loads(result.stdout)}
    assert set(listed) == {ask.uuid}  # food's only open ask or offer
    matches = listed[ask.uuid]["matches"]
    assert {m["title"] for m in matches[:2]} == {"Soup pot to lend", "Stew for followers"}
    assert {m["title"] for m in matches} == {
        "Soup pot to lend",
        "Stew for followers",
        "Public lentils",
    }
    pot = next(m for m in matches if m["title"] == "Soup pot to lend")
    assert pot["uri"] == posted["pot"].uri and pot["kind"] == "offer"
    assert pot["origin"] == "remote" and 2 < pot["distance_km"] < 4
    assert pot["introduction"] is None
    assert next(m for m in matches if m["title"] == "Public lentils")["origin"] == "local"

    # Nothing public or federated names a match.
    document = await a.http.get(ask.uri, headers={"Accept": "application/activity+json"})
    assert document.status_code == 200 and "Soup pot" not in document.text
    for path in ("/board", "/@food", f"/items/{ask.uuid}"):
        assert "Soup pot" not in (await a.http.get(path)).text
    async with a.runtime.sessions() as session:
        sent = [row.document for row in await session.scalars(select(Activity))]
    assert sent and not any("Soup pot" in json.dumps(d) for d in sent)


async def b_conversation(b: Instance) -> list[RemoteObject]:
    """What B's food received from A's food, in order."""
    async with b.runtime.sessions() as session:
        rows = await session.scalars(
            select(RemoteObject)
            .join(ConversationMessage, ConversationMessage.remote_object_id == RemoteObject.id)
            .order_by(ConversationMessage.id)
        )
        return list(rows)


async def introduce(a: Instance, ask: Item, candidate: Item, who: str = "ben") -> int:
    async with browser(a, who) as http:
        token = await csrf(http, f"/items/{ask.uuid}")
        response = await http.post(
            f"/items/{ask.uuid}/introduce", data={"csrf_token": token, "candidate": candidate.uri}
        )
        return response.status_code


async def direct_messages(a: Instance) -> int:
    async with a.runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Activity)
                .where(Activity.type == "Create", Activity.visibility == Visibility.DIRECT)
            )
            or 0
        )


async def test_introduce_sends_one_message_and_the_contact_only_after_the_answer(
    net: Net, tmp_path: Path
) -> None:
    a, b, posted = await world(net)
    ask, pot = posted["ask"], posted["pot"]

    assert await introduce(a, ask, pot, "dani") == 403  # a member who does not moderate
    assert await introduce(a, ask, posted["tools_members"]) == 404  # not one of its matches
    assert await introduce(a, ask, pot) == 303
    assert await introduce(a, ask, pot, "carol") == 303  # a second click sends nothing
    await settle(a, b)

    received = await b_conversation(b)
    assert len(received) == 1 and await direct_messages(a) == 1
    text = received[0].content_html
    assert "Need soup for ten" in text and ask.uri in text and "Soup pot to lend" in text
    assert "put you in touch" in text
    for secret in ("Ben", "ben", "Lavapiés", "40.4"):  # posted as the group: nobody named
        assert secret not in text
    async with a.runtime.sessions() as session:
        row = await session.scalar(select(Introduction))
        assert row is not None
        assert (row.state, row.contact_note_uri) == ("pending", None)
        assert row.recipient_uri == f"{B}/actors/food"
    assert "Introduced: waiting for their answer." in await page(a, ask, "ben")
    listed = await asyncio.to_thread(match_cli, a, "food", tmp_path)
    [row] = json.loads(listed.stdout)
    introduced = {m["title"]: m["introduction"] for m in row["matches"]}
    assert introduced["Soup pot to lend"] == "pending" and introduced["Public lentils"] is None

    # B's moderator answers the message: a signed Create{Note} in reply to it, from B's group.
    async with b.runtime.sessions() as session, session.begin():
        conversation = await session.scalar(select(Conversation))
        ana = await actors.find_actor(session, "ana")
        assert conversation is not None and ana is not None
        await conversations.answer(
            session, b.runtime.uris, conversation, ana, "Yes, we would like that."
        )
    await settle(a, b)

    received = await b_conversation(b)
    assert len(received) == 2 and await direct_messages(a) == 2
    contact = received[1].content_html
    assert f"@food@{A.removeprefix('http://')}" in contact and "@ben" not in contact
    assert received[1].in_reply_to_uri is not None
    async with a.runtime.sessions() as session:
        row = await session.scalar(select(Introduction))
        ben = await actors.find_actor(session, "ben")
        assert row is not None and ben is not None
        assert row.state == "accepted" and row.contact_note_uri is not None
        alerted = list(
            await session.scalars(select(Alert.member_id).where(Alert.kind == "introduction"))
        )
        # The answer still reached the group's conversations, as every message does.
        landed = await session.scalar(select(func.count()).select_from(ConversationMessage))
    assert alerted == [ben.id] and landed == 1
    assert f"@food@{B.removeprefix('http://')}" in await page(a, ask, "ben")

    # Another answer changes nothing: the contact went once.
    async with b.runtime.sessions() as session, session.begin():
        conversation = await session.scalar(select(Conversation))
        ana = await actors.find_actor(session, "ana")
        assert conversation is not None and ana is not None
        await conversations.answer(session, b.runtime.uris, conversation, ana, "Thanks again!")
    await settle(a, b)
    assert len(await b_conversation(b)) == 2 and await direct_messages(a) == 2


async def test_an_item_posted_in_her_own_name_gives_her_handle_once_they_say_yes(
    net: Net,
) -> None:
    a, b, posted = await world(net)
    mine = await post(a, Kind.ASK, "Soup for my flat", author="ben", as_group=False)
    await settle(a, b)

    assert await introduce(a, mine, posted["pot"]) == 303
    await settle(a, b)
    async with b.runtime.sessions() as session, session.begin():
        conversation = await session.scalar(select(Conversation))
        ana = await actors.find_actor(session, "ana")
        assert conversation is not None and ana is not None
        await conversations.answer(session, b.runtime.uris, conversation, ana, "Yes!")
    await settle(a, b)

    received = await b_conversation(b)
    assert len(received) == 2
    assert f"@ben@{A.removeprefix('http://')}" in received[1].content_html
