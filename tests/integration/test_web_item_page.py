"""An item's page: what it shows to whom (visibility, the author only when not posted as the
group, public replies to all, private answers to the author and moderators), and answering."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import actors, posting
from models.content import RemoteObject
from models.items import Item, ItemResponse, ResponseKind
from models.posting import Draft
from models.queue import Activity
from models.remote import RemoteActor
from tests.instances import Instance
from tests.integration.test_web_my_items import anonymous_get, browser, people, posted
from tests.web import Page, csrf

PEER = "https://social.example"


async def remote_responses(instance: Instance, item: Item) -> tuple[int, int]:
    """A public reply and a private message from someone on another server: their response ids."""
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        lucia = RemoteActor(
            uri=f"{PEER}/users/lucia",
            host="social.example",
            username="lucia",
            name="Lucía",
            inbox_uri=f"{PEER}/users/lucia/inbox",
            document={},
        )
        session.add(lucia)
        await session.flush()
        ids = []
        for n, (kind, public, text) in enumerate(
            [
                (ResponseKind.REPLY, True, "<p>I have two packs to spare</p>"),
                (ResponseKind.MESSAGE, False, "<p>I live nearby, can bring them tonight</p>"),
            ]
        ):
            note = RemoteObject(
                uri=f"{PEER}/notes/{n}",
                type="Note",
                kind="response" if public else "private",
                remote_actor_id=lucia.id,
                local_actor_id=food.id,
                in_reply_to_uri=item.uri,
                content_html=text,
                public=public,
                document={},
            )
            session.add(note)
            await session.flush()
            response = ItemResponse(item_id=item.id, kind=kind, remote_object_id=note.id)
            session.add(response)
            await session.flush()
            ids.append(response.id)
    return ids[0], ids[1]


def accessible(html: str) -> None:
    page = Page(html)
    assert (
        page.h1 == 1
        and page.unlabelled() == []
        and page.landmarks == {"header", "nav", "main", "footer"}
    )


async def test_a_public_item_page_shows_its_facts_and_the_author_only_when_not_posted_as_the_group(
    instance: Instance,
) -> None:
    await people(instance)
    ask = await posted(
        instance,
        Draft(
            Kind.ASK,
            "Nappies, size 4",
            "Any **brand** <script>x</script>",
            "goods",
            quantity=2,
            place=Place("Riverside", 40.41678, -3.70379),
            needed_by=datetime(2026, 12, 20, 22, tzinfo=UTC),
            as_group=True,
        ),
    )
    offer = await posted(instance, Draft(Kind.OFFER, "Soup on Fridays", category="food"))

    as_group = await anonymous_get(instance, f"/items/{ask.uuid}")
    own_name = await anonymous_get(instance, f"/items/{offer.uuid}")

    assert as_group.status_code == 200
    text = as_group.text
    for shown in (
        "Ask: Nappies, size 4",
        "Open",
        "Goods",
        "Riverside",
        "December 20, 2026",
        'href="/@food"',
        "<strong>brand</strong>",
        "How to help",
        "Members: sign in to answer.",
    ):
        assert shown in text, shown
    assert "<script>" not in text and "40.41678" not in text
    assert "Posted by" not in text and "Ben" not in text and "/@ben" not in text
    assert "Posted by" in own_name.text and 'href="/@ben">Ben</a>' in own_name.text
    async with browser(instance, "carol") as moderator:
        moderated = (await moderator.get(f"/items/{ask.uuid}")).text
    async with browser(instance, "dani") as member:
        member_view = (await member.get(f"/items/{ask.uuid}")).text
    assert "Posted as the group by" in moderated and "Ben (@ben)" in moderated
    assert "Posted as the group by" not in member_view and "Ben" not in member_view
    assert "Accept" in as_group.headers["vary"]
    accessible(text)


@pytest.mark.parametrize("visibility", [Visibility.MEMBERS, Visibility.FOLLOWERS])
async def test_a_non_public_item_page_is_only_for_signed_in_members_of_its_group(
    instance: Instance, visibility: Visibility
) -> None:
    """A signed-out visitor is asked to sign in (403); a signed-in non-member gets the 404 of an
    unknown item; a member sees it, with its badge."""
    await people(instance)
    item = await posted(
        instance, Draft(Kind.ASK, "Rent support", category="money", visibility=visibility)
    )

    anonymous = await anonymous_get(instance, f"/items/{item.uuid}")
    async with browser(instance, "tess") as other_group:
        outsider = await other_group.get(f"/items/{item.uuid}")
        outsider_answer = await other_group.post(
            f"/items/{item.uuid}/respond", data={"csrf_token": await csrf(other_group, "/my/items")}
        )
    async with browser(instance, "dani") as member:
        inside = await member.get(f"/items/{item.uuid}")

    assert (
        anonymous.status_code == 403
        and outsider.status_code == 404
        and outsider_answer.status_code == 404
    )
    assert "Sign in to see this" in anonymous.text and "Sign in to see this" not in outsider.text
    assert f'href="/login?next=/items/{item.uuid}"' in anonymous.text
    assert anonymous.headers["cache-control"] == "private, no-store"
    accessible(anonymous.text)
    assert "Rent support" not in anonymous.text + outsider.text
    assert inside.status_code == 200 and "Rent support" in inside.text
    badge = "Members only" if visibility == Visibility.MEMBERS else "Followers"
    assert f'<span class="badge badge-private">{badge}</span>' in inside.text
    assert inside.headers["cache-control"] == "private, no-store"
    async with instance.runtime.sessions() as session:
        assert list(await session.scalars(select(ItemResponse))) == []


async def test_a_member_answers_i_can_help_and_only_the_author_and_moderators_see_who(
    instance: Instance,
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies, size 4", category="goods"))

    async with browser(instance, "dani") as dani:
        page = await dani.get(f"/items/{item.uuid}")
        forged = await dani.post(f"/items/{item.uuid}/respond", data={"csrf_token": "forged"})
        answered = await dani.post(
            f"/items/{item.uuid}/respond", data={"csrf_token": Page(page.text).csrf or ""}
        )
        after = await dani.get(f"/items/{item.uuid}")
    async with browser(instance, "ben") as author:
        author_view = (await author.get(f"/items/{item.uuid}")).text
    async with browser(instance, "carol") as moderator:
        moderator_view = (await moderator.get(f"/items/{item.uuid}")).text
    anonymous_view = (await anonymous_get(instance, f"/items/{item.uuid}")).text

    assert 'action="/items/' + item.uuid + '/respond"' in page.text and "I can help" in page.text
    accessible(page.text)
    assert forged.status_code == 403
    assert answered.status_code == 303 and answered.headers["location"] == f"/items/{item.uuid}"
    assert "Thank you." in after.text and "You said you can help." in after.text
    assert "/respond" not in after.text
    for view in (author_view, moderator_view):
        assert "Dani (@dani)" in view and "can help" in view
    assert "Dani" not in anonymous_view and "Every answer" not in after.text


async def test_a_call_counts_the_people_coming(instance: Instance) -> None:
    await people(instance)
    call = await posted(
        instance,
        Draft(
            Kind.CALL,
            "Unload the van",
            place=Place("Market hall"),
            people_wanted=3,
            meeting_point="The side door",
            starts_at=datetime(2026, 12, 5, 9, tzinfo=UTC),
            timezone="Europe/Madrid",
        ),
    )

    async with browser(instance, "dani") as dani:
        page = await dani.get(f"/items/{call.uuid}")
        await dani.post(
            f"/items/{call.uuid}/respond", data={"csrf_token": Page(page.text).csrf or ""}
        )
        after = (await dani.get(f"/items/{call.uuid}")).text

    assert "I&#39;m coming" in page.text or "I'm coming" in page.text
    assert "Saturday, December 5, 2026, 10:00\u202fAM" in page.text and "Europe/Madrid" in page.text
    assert "You said you are coming." in after
    assert "The side door" not in page.text and "The side door" in after  # sealed until then
    assert "1 of 3 coming: 2 more needed" in after


async def test_a_private_answer_with_personal_data_is_refused_until_sent_anyway(
    instance: Instance,
) -> None:
    # Given a remote person's private message about an ask
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies, size 4", category="goods"))
    _, message = await remote_responses(instance, item)
    path = f"/items/{item.uuid}/responses/{message}/reply"
    text = "Ring me on +34 600 123 456"

    async with browser(instance, "ben") as ben:
        token = Page((await ben.get(f"/items/{item.uuid}")).text).csrf or ""
        # When the author answers with her phone number
        refused = await ben.post(path, data={"csrf_token": token, "text": text})
        # And then ticks "Send it anyway"
        sent = await ben.post(
            path, data={"csrf_token": token, "text": text, "confirm_personal_data": "yes"}
        )

    # Then the first answer is refused on its field, kept, with the choice to send it anyway
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert "a phone number: &#39;+34 600 123 456&#39;" in refused.text
    assert f'aria-invalid="true">{text}</textarea>' in refused.text
    assert 'name="confirm_personal_data" value="yes"' in refused.text
    accessible(refused.text)
    # And the confirmed one goes out
    assert sent.status_code == 303
    async with instance.runtime.sessions() as session:
        creates = [a for a in await session.scalars(select(Activity)) if a.type == "Create"]
    assert any("600 123 456" in str(a.document["object"].get("content")) for a in creates)


async def test_public_replies_are_shown_to_all_private_ones_only_to_the_author_answering_privately(
    instance: Instance,
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies, size 4", category="goods"))
    _, message = await remote_responses(instance, item)
    path = f"/items/{item.uuid}/responses/{message}/reply"

    anonymous_view = (await anonymous_get(instance, f"/items/{item.uuid}")).text
    async with browser(instance, "dani") as dani:
        refused = await dani.post(
            path, data={"csrf_token": await csrf(dani, "/my/items"), "text": "Hello"}
        )
    async with browser(instance, "ben") as ben:
        view = await ben.get(f"/items/{item.uuid}")
        token = Page(view.text).csrf or ""
        forged = await ben.post(path, data={"csrf_token": "forged", "text": "Thanks!"})
        empty = await ben.post(path, data={"csrf_token": token, "text": "  "})
        sent = await ben.post(
            path, data={"csrf_token": token, "text": "Thanks! Tonight is perfect."}
        )
        after = (await ben.get(f"/items/{item.uuid}")).text

    assert (
        "I have two packs to spare" in anonymous_view
        and "Lucía (@lucia@social.example)" in anonymous_view
    )
    assert (
        "can bring them tonight" not in anonymous_view and "Answer privately" not in anonymous_view
    )
    assert "can bring them tonight" in view.text and "sent a private message" in view.text
    assert (
        view.text.count("Answer privately") == 2
    )  # the public reply can be answered privately too
    assert "replied publicly" in view.text and "Every answer" not in anonymous_view
    accessible(view.text)
    assert refused.status_code == 403 and forged.status_code == 403
    assert (
        empty.status_code == 400
        and "Write something to send." in empty.text
        and 'role="alert"' in empty.text
    )
    assert sent.status_code == 303 and "sent privately" in after
    async with instance.runtime.sessions() as session:
        creates = [
            a
            for a in await session.scalars(select(Activity).order_by(Activity.id))
            if a.type == "Create" and a.document["object"].get("inReplyTo") == f"{PEER}/notes/1"
        ]
    assert len(creates) == 1
    note = creates[0].document["object"]
    assert note["to"] == [f"{PEER}/users/lucia"] and "Tonight is perfect" in note["content"]
    assert note["attributedTo"] == f"{instance.settings.base_url}/actors/food"


async def test_a_deleted_item_is_gone_and_an_unknown_one_not_found(instance: Instance) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))
    async with instance.runtime.sessions() as session, session.begin():
        row = await session.get(Item, item.id)
        assert row is not None
        await posting.delete_item(session, instance.runtime.uris, row)

    gone = await anonymous_get(instance, f"/items/{item.uuid}")
    unknown = await anonymous_get(instance, "/items/0123456789abcdef")

    assert gone.status_code == 410 and unknown.status_code == 404
    assert "Nappies" not in gone.text
