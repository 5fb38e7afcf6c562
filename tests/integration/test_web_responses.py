"""Closing the help loop from the item's page: "I can help", "I'm interested" and "I'm coming"
with an optional private message, taken back and given again; the author and the group's
moderators answer any response privately; the member who responded sees the conversation and is
told, and nobody else sees any of it. And who sees followers-only and members-only items."""

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import actors
from models.actors import Role
from models.calls import Commitment
from models.items import Answer, Item, ItemResponse
from models.notices import Notice
from models.posting import Draft
from models.queue import Alert
from tests.instances import Instance
from tests.integration.test_web_item_page import accessible
from tests.integration.test_web_my_items import browser, people, posted
from tests.web import PASSWORD, csrf

MESSAGE = "I have a car, free after six"
ANSWER = "Thank you! Could you come at seven?"


async def eva(instance: Instance) -> None:
    """A plain member of food, who neither posted nor answered."""
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        member = await actors.create_member(session, "eva", PASSWORD, "Eva")
        await actors.join_group(session, food, member, Role.MEMBER)


async def respond(instance: Instance, item: Item, who: str, message: str = "") -> httpx.Response:
    async with browser(instance, who) as http:
        token = await csrf(http, f"/items/{item.uuid}")
        return await http.post(
            f"/items/{item.uuid}/respond", data={"csrf_token": token, "message": message}
        )


async def response_of(instance: Instance, item: Item, username: str) -> ItemResponse:
    async with instance.runtime.sessions() as session:
        member = await actors.find_actor(session, username)
        assert member is not None
        found = await session.scalar(
            select(ItemResponse).where(
                ItemResponse.item_id == item.id, ItemResponse.member_id == member.id
            )
        )
    assert found is not None
    return found


async def answer(instance: Instance, item: Item, response_id: int, who: str | None) -> int:
    async with browser(instance, who) as http:
        token = await csrf(http, f"/items/{item.uuid}" if who else "/login")
        sent = await http.post(
            f"/items/{item.uuid}/responses/{response_id}/reply",
            data={"csrf_token": token, "text": ANSWER},
        )
    return sent.status_code


async def count(instance: Instance, table: type) -> int:
    async with instance.runtime.sessions() as session:
        return (await session.scalar(select(func.count()).select_from(table))) or 0


async def test_a_members_i_can_help_with_a_message_is_answered_privately_and_she_is_told(
    instance: Instance,
) -> None:
    # Given Ben's ask, and Dani says she can help, with a private message
    await people(instance)
    await eva(instance)
    item = await posted(instance, Draft(Kind.ASK, "A lift to the clinic", category="transport"))
    responded = await respond(instance, item, "dani", MESSAGE)
    assert responded.status_code == 303
    response = await response_of(instance, item, "dani")
    assert response.message == MESSAGE

    # Then Ben (the author) and Carol (a moderator) see her message, with a form to answer her
    for manager in ("ben", "carol"):
        async with browser(instance, manager) as http:
            page = (await http.get(f"/items/{item.uuid}")).text
        assert MESSAGE in page and "Dani (@dani)</a></strong> can help" in page
        assert f'action="/items/{item.uuid}/responses/{response.id}/reply"' in page
        accessible(page)

    # When Ben answers her privately
    async with browser(instance, "ben") as http:
        token = await csrf(http, f"/items/{item.uuid}")
        sent = await http.post(
            f"/items/{item.uuid}/responses/{response.id}/reply",
            data={"csrf_token": token, "text": ANSWER},
        )
        after = await http.get(f"/items/{item.uuid}")
    assert sent.status_code == 303 and sent.headers["location"] == f"/items/{item.uuid}"
    assert "Answered privately" in after.text and ANSWER in after.text

    # Then Dani sees her message and the answer on the page, and a notification naming no text
    async with browser(instance, "dani") as http:
        page = (await http.get(f"/items/{item.uuid}")).text
        notifications = (await http.get("/notifications")).text
    assert MESSAGE in page and ANSWER in page and "Private answer from Ben" in page
    assert "Your answer to this has a private reply:" in notifications
    assert f'href="/items/{item.uuid}#my-response"' in notifications
    assert ANSWER not in notifications and MESSAGE not in notifications
    assert "1 new notification." in notifications
    accessible(page)
    # And an alert, whose e-mail says no more (tests/integration/test_alerts.py)
    async with instance.runtime.sessions() as session:
        alerts = list(await session.scalars(select(Alert).where(Alert.kind == "answer")))
        dani = await actors.find_actor(session, "dani")
    assert dani is not None and [(a.member_id, a.item_id) for a in alerts] == [(dani.id, item.id)]

    # And nobody else sees the message or the answer: another member, a stranger, a visitor
    for other in ("eva", "tess", None):
        async with browser(instance, other) as http:
            shown = (await http.get(f"/items/{item.uuid}")).text
        assert MESSAGE not in shown and ANSWER not in shown, other


@pytest.mark.parametrize(
    ("who", "status"), [("carol", 303), ("eva", 403), ("tess", 403), (None, 303)]
)
async def test_only_the_author_and_the_groups_moderators_answer_a_response(
    instance: Instance, who: str | None, status: int
) -> None:
    await people(instance)
    await eva(instance)
    item = await posted(instance, Draft(Kind.OFFER, "Soup on Fridays", category="food"))
    await respond(instance, item, "dani")
    response = await response_of(instance, item, "dani")

    code = await answer(instance, item, response.id, who)

    assert code == status
    answered = await count(instance, Answer)
    if who == "carol":
        assert answered == 1 and await count(instance, Notice) == 1
    else:  # refused, or (signed out) sent to sign in: nothing stored, nobody told
        assert answered == 0 and await count(instance, Notice) == 0


async def test_an_empty_answer_is_refused_next_to_its_field(instance: Instance) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))
    await respond(instance, item, "dani")
    response = await response_of(instance, item, "dani")
    async with browser(instance, "ben") as http:
        token = await csrf(http, f"/items/{item.uuid}")
        refused = await http.post(
            f"/items/{item.uuid}/responses/{response.id}/reply",
            data={"csrf_token": token, "text": "  "},
        )
    assert refused.status_code == 400 and "Write something to send." in refused.text
    assert f'aria-describedby="reply-{response.id}-hint reply-{response.id}-error"' in refused.text
    assert await count(instance, Answer) == 0


async def test_a_member_takes_back_her_answer_and_can_give_it_again(instance: Instance) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.OFFER, "A cot for a baby", category="goods"))
    await respond(instance, item, "dani", MESSAGE)

    async with browser(instance, "dani") as http:
        page = (await http.get(f"/items/{item.uuid}")).text
        token = await csrf(http, f"/items/{item.uuid}")
        taken = await http.post(f"/items/{item.uuid}/withdraw", data={"csrf_token": token})
        after = (await http.get(f"/items/{item.uuid}")).text
    assert "I&#39;m no longer interested" in page
    assert taken.status_code == 303 and "your answer is taken back" in after
    assert "You took it back." in after and "I&#39;m interested" in after
    assert (await response_of(instance, item, "dani")).withdrawn_at is not None
    async with browser(instance, "ben") as http:
        author_view = (await http.get(f"/items/{item.uuid}")).text
        listed = (await http.get("/my/items")).text
    assert "Dani (@dani)</a></strong> is no longer interested" in author_view
    assert "0 responses" in listed

    # Given again, with another message, it counts again
    await respond(instance, item, "dani", "Still free after all")
    again = await response_of(instance, item, "dani")
    assert again.withdrawn_at is None and again.message == "Still free after all"
    assert await count(instance, ItemResponse) == 1


async def test_im_coming_carries_a_message_can_be_answered_and_taken_back(
    instance: Instance,
) -> None:
    await people(instance)
    call = await posted(
        instance,
        Draft(
            Kind.CALL,
            "Unload the van",
            place=Place("Market hall"),
            people_wanted=3,
            starts_at=datetime(2030, 12, 5, 10, tzinfo=UTC),
        ),
    )
    assert (await respond(instance, call, "dani", MESSAGE)).status_code == 303
    response = await response_of(instance, call, "dani")
    async with instance.runtime.sessions() as session:
        [commitment] = list(await session.scalars(select(Commitment)))
    assert commitment.state == "coming" and response.message == MESSAGE

    async with browser(instance, "ben") as http:
        page = (await http.get(f"/items/{call.uuid}")).text
        unread = (await http.get("/notifications")).text
    assert "Dani (@dani)</a></strong> is coming" in page and MESSAGE in page
    assert "1 new notification." in unread  # her commitment, told once
    assert await answer(instance, call, response.id, "ben") == 303

    async with browser(instance, "dani") as http:
        mine = (await http.get(f"/items/{call.uuid}")).text
        token = await csrf(http, f"/items/{call.uuid}")
        await http.post(f"/items/{call.uuid}/withdraw", data={"csrf_token": token})
    assert ANSWER in mine and "I can&#39;t come after all" in mine
    async with instance.runtime.sessions() as session:
        commitment_after = await session.get(Commitment, commitment.id)
        response_after = await session.get(ItemResponse, response.id)
    assert commitment_after is not None and commitment_after.state == "withdrawn"
    assert response_after is not None and response_after.withdrawn_at is not None


@pytest.mark.parametrize("visibility", [Visibility.MEMBERS, Visibility.FOLLOWERS])
async def test_the_group_page_lists_private_items_with_their_badge_to_members_only(
    instance: Instance, visibility: Visibility
) -> None:
    await people(instance)
    await posted(instance, Draft(Kind.ASK, "Rent support", category="money", visibility=visibility))
    await posted(instance, Draft(Kind.OFFER, "Soup on Fridays", category="food"))
    badge = "Members only" if visibility == Visibility.MEMBERS else "Followers"

    async with browser(instance, "dani") as http:
        member_view = await http.get("/@food")
    assert "Rent support" in member_view.text and "Soup on Fridays" in member_view.text
    assert f'<span class="badge badge-private">{badge}</span>' in member_view.text
    assert member_view.headers["cache-control"] == "private, no-store"
    accessible(member_view.text)
    for other in ("tess", None):  # a member of another group; a visitor
        async with browser(instance, other) as http:
            shown = (await http.get("/@food")).text
        assert "Soup on Fridays" in shown and "Rent support" not in shown, other
        assert "badge-private" not in shown
