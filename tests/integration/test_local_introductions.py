"""Introducing a match in another group of the same instance, on both databases: no message is
sent (nothing federated); the offer's side is alerted and asked on its page, shown only to its
author and its group's moderators; "Yes" shows each side whom to write to (never the member
behind an item posted as the group), "No" shares nothing; only that side answers, once; and an
item the other group cannot see is never named to it."""

from sqlalchemy import func, select

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, alerts
from models.actors import Role
from models.introductions import Introduction
from models.items import Item
from models.queue import Activity, Alert
from tests.instances import Instance
from tests.integration.test_matching import LAVAPIES, introduce, page, people, post
from tests.integration.test_web_my_items import browser
from tests.web import PASSWORD, csrf

HOST = "127.0.0.1:8101"


async def world(a: Instance) -> dict[str, Item]:
    """food (ben and dani members, carol moderator) asks; tools (tess moderator, uma and tom
    members) offers: uma's pot in her own name, Sunday soup posted as the group by uma."""
    await people(a)
    async with a.runtime.sessions() as session, session.begin():
        tools = await actors.find_actor(session, "tools")
        assert tools is not None
        for name in ("uma", "tom"):
            member = await actors.create_member(session, name, PASSWORD, name.title())
            await actors.join_group(session, tools, member, Role.MEMBER)
    return {
        "ask": await post(a, Kind.ASK, "Need soup for ten", author="ben", at=LAVAPIES),
        "own_ask": await post(a, Kind.ASK, "Soup for my flat", author="ben", as_group=False),
        "pot": await post(
            a, Kind.OFFER, "Soup pot to lend", group="tools", author="uma", as_group=False
        ),
        "sundays": await post(a, Kind.OFFER, "Soup on Sundays", group="tools", author="uma"),
    }


async def answer(a: Instance, item: Item, introduction_id: int, said: str, who: str) -> int:
    async with browser(a, who) as http:
        token = await csrf(http, "/my/account")
        response = await http.post(
            f"/items/{item.uuid}/introductions/{introduction_id}",
            data={"csrf_token": token, "answer": said},
        )
        return response.status_code


async def introduction(a: Instance, item: Item, candidate: Item) -> Introduction:
    async with a.runtime.sessions() as session:
        row = await session.scalar(
            select(Introduction).where(
                Introduction.item_id == item.id, Introduction.candidate_uri == candidate.uri
            )
        )
        assert row is not None
        return row


async def alerted(a: Instance, kind: str) -> list[tuple[str, int | None]]:
    async with a.runtime.sessions() as session:
        rows = await session.execute(
            select(actors.LocalActor.username, Alert.item_id)
            .join(actors.LocalActor, actors.LocalActor.id == Alert.member_id)
            .where(Alert.kind == kind)
            .order_by(Alert.id)
        )
        return [(username, item_id) for username, item_id in rows.all()]


async def activities(a: Instance) -> int:
    async with a.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Activity)) or 0)


async def signed_out_page(a: Instance, item: Item) -> str:
    response = await a.http.get(f"/items/{item.uuid}")
    assert response.status_code == 200
    return response.text


QUESTION = "Food Share's ask “Need soup for ten” might meet this offer"


async def notifications_of(a: Instance, who: str) -> str:
    """Her notifications page."""
    async with browser(a, who) as http:
        return (await http.get("/notifications")).text


async def test_yes_to_an_offer_in_her_own_name_shows_each_side_the_other(
    instance: Instance,
) -> None:
    a = instance
    posted = await world(a)
    ask, pot = posted["ask"], posted["pot"]
    before = await activities(a)

    # Given food's moderator introduces its ask to uma's offer (twice: asked once)
    assert await introduce(a, ask, pot, "carol") == 303
    assert await introduce(a, ask, pot, "ben") == 303
    row = await introduction(a, ask, pot)
    assert (row.state, row.recipient_uri, row.note_uri) == (
        "pending",
        f"http://{HOST}/actors/uma",
        "",
    )
    assert "Introduced: waiting for their answer." in await page(a, ask, "carol")

    # Then uma, and only she, is alerted, in her words; the question is on her offer's page
    assert await alerted(a, "introduction-asked") == [("uma", pot.id)]
    async with a.runtime.sessions() as session:
        uma = await actors.find_actor(session, "uma")
        alert = await session.scalar(select(Alert).where(Alert.kind == "introduction-asked"))
        assert uma is not None and alert is not None
        message = await alerts.compose(session, a.runtime.settings, alert, uma)
    assert message is not None
    assert message.subject == "Would you like to be put in touch about “Soup pot to lend”?"
    assert message.push["url"] == f"http://{HOST}/items/{pot.uuid}"
    for who in ("uma", "tess"):  # the author, the group's moderator
        shown = await page(a, pot, who)
        assert QUESTION in shown and f"/items/{pot.uuid}/introductions/{row.id}" in shown
    for who in ("tom", "ben", "dani"):  # a plain member of tools, the ask's own side
        assert "Need soup for ten" not in await page(a, pot, who)
    told = await notifications_of(a, "uma")
    assert "asks whether you would like to be put in touch about" in told
    assert f'href="/items/{pot.uuid}#introductions"' in told and "Need soup" not in told
    assert "1 new notification." in told
    assert "put in touch" not in await notifications_of(a, "tom")
    assert "Need soup for ten" not in await signed_out_page(a, pot)

    # A stranger cannot answer; the ask's managers cannot answer a question put to the offer
    assert await answer(a, pot, row.id, "yes", "tom") == 403
    assert await answer(a, pot, row.id, "yes", "carol") == 403
    assert await answer(a, ask, row.id, "yes", "carol") == 404
    assert await answer(a, pot, row.id + 99, "yes", "uma") == 404
    assert (await introduction(a, ask, pot)).state == "pending"
    assert await alerted(a, "introduction") == []

    # When uma says yes
    assert await answer(a, pot, row.id, "yes", "uma") == 303

    # Then each side sees whom to write to: the ask posted as the group names food, not ben
    row = await introduction(a, ask, pot)
    assert row.state == "accepted" and row.answered_at is not None
    assert f"They would like to be put in touch: @uma@{HOST}" in await page(a, ask, "ben")
    offer_side = await page(a, pot, "uma")
    assert f"You said yes: write to @food@{HOST}" in offer_side
    assert "@ben" not in offer_side and "Ben" not in offer_side
    assert await alerted(a, "introduction") == [("ben", ask.id)]  # the ask's author
    told = await notifications_of(a, "ben")
    assert "Someone would like to be put in touch about" in told
    assert f'href="/items/{ask.uuid}#matches"' in told and "uma" not in told

    # A second answer changes nothing
    assert await answer(a, pot, row.id, "no", "tess") == 303
    assert (await introduction(a, ask, pot)).state == "accepted"
    assert await alerted(a, "introduction") == [("ben", ask.id)]

    # Nothing federated, nothing public
    assert await activities(a) == before
    for item in (ask, pot):
        assert "put in touch" not in await signed_out_page(a, item)
    assert f"@uma@{HOST}" not in await signed_out_page(a, ask)
    assert f"@food@{HOST}" not in await signed_out_page(a, pot)


async def test_no_to_an_offer_posted_as_the_group_shares_nothing_and_never_names_its_author(
    instance: Instance,
) -> None:
    a = instance
    posted = await world(a)
    ask, own_ask, sundays = posted["ask"], posted["own_ask"], posted["sundays"]
    before = await activities(a)

    # Given both of food's asks are introduced to the offer tools posted as the group
    assert await introduce(a, ask, sundays, "carol") == 303
    assert await introduce(a, own_ask, sundays, "ben") == 303
    declined = await introduction(a, ask, sundays)
    accepted = await introduction(a, own_ask, sundays)
    assert declined.recipient_uri == accepted.recipient_uri == f"http://{HOST}/actors/tools"

    # Then tools' moderators are alerted (not uma, who posted it as the group)
    assert await alerted(a, "introduction-asked") == [("tess", sundays.id)]
    for who in ("tess", "uma"):  # a moderator, the member who posted it
        shown = await page(a, sundays, who)
        assert QUESTION in shown
        assert "Food Share's ask “Soup for my flat” might meet this offer" in shown
    assert "Need soup for ten" not in await page(a, sundays, "tom")

    # When tess says no to one and yes to the other
    assert await answer(a, sundays, declined.id, "no", "tess") == 303
    assert await answer(a, sundays, accepted.id, "yes", "tess") == 303

    # Then the no is shown to the asking side, and nothing is exchanged for it
    assert (await introduction(a, ask, sundays)).state == "declined"
    asking = await page(a, ask, "carol")
    assert "They said no, thanks." in asking and "@tools@" not in asking
    offering = await page(a, sundays, "tess")
    assert "You said no, thanks." in offering
    assert f"You said yes: write to @ben@{HOST}" in offering  # ben posted in his own name
    assert offering.count("You said yes") == 1
    assert await alerted(a, "introduction") == [("ben", own_ask.id)]

    # The yes names the group, never uma
    mine = await page(a, own_ask, "ben")
    assert f"They would like to be put in touch: @tools@{HOST}" in mine
    assert "Uma" not in mine and "@uma" not in mine

    # A yes after the no changes nothing
    assert await answer(a, sundays, declined.id, "yes", "uma") == 303
    assert (await introduction(a, ask, sundays)).state == "declined"
    assert "They said no, thanks." in await page(a, ask, "carol")
    assert await activities(a) == before


async def test_an_item_the_other_group_cannot_see_is_never_introduced_to_it(
    instance: Instance,
) -> None:
    a = instance
    posted = await world(a)
    pot = posted["pot"]
    food_offer = await post(a, Kind.OFFER, "Food's own soup", author="dani")
    hidden = {
        visibility: await post(
            a, Kind.ASK, f"Quiet soup ({visibility})", author="ben", visibility=visibility
        )
        for visibility in (Visibility.MEMBERS, Visibility.FOLLOWERS)
    }

    for ask in hidden.values():
        shown = await page(a, ask, "ben")
        assert "Soup pot to lend" in shown  # tools' public offer is a match...
        assert f'value="{pot.uri}"' not in shown  # ...but has no Introduce button
        assert await introduce(a, ask, pot) == 400  # ...and cannot be introduced
    # Within one group, members answer each other directly.
    assert await introduce(a, posted["ask"], food_offer) == 400
    async with a.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Introduction)) == 0
    assert await alerted(a, "introduction-asked") == []
    assert "Quiet soup" not in await page(a, pot, "uma")
