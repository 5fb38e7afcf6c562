"""Profile pages: a member's profile names them only on what they posted in their own name, and
never lists their groups; a group page has its handle (with a copy button), a category filter
and "Follow from your server"."""

import pytest

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, posting
from models.posting import Draft
from tests.instances import Instance
from tests.web import Page

AS2 = "application/activity+json"


async def _post(instance: Instance, *drafts: Draft, author: str = "ana") -> None:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        member = await actors.find_actor(session, author)
        assert group is not None and member is not None
        member.name, member.summary = "Ana Quispe", "Cooks on Fridays."
        for draft in drafts:
            await posting.create_item(session, instance.runtime.uris, group, member, draft)


async def test_a_members_profile_shows_only_her_own_public_items_and_never_her_groups(
    instance: Instance,
) -> None:
    # Given Ana posted one ask as the group, one offer in her own name, and a members-only ask
    await _post(
        instance,
        Draft(Kind.ASK, "Nappies for a newborn", as_group=True),
        Draft(Kind.OFFER, "Soup on Fridays"),
        Draft(Kind.ASK, "Rent support for the Flores family", visibility=Visibility.MEMBERS),
    )

    # When anyone opens her profile
    response = await instance.http.get("/@ana")

    # Then it shows her name, handle, summary and her own public offer only
    page = response.text
    assert response.status_code == 200
    assert "Ana Quispe" in page and "@ana@127.0.0.1:8101" in page and "Cooks on Fridays." in page
    assert "Soup on Fridays" in page
    assert "Nappies for a newborn" not in page  # posted as the group: never attributed to her
    assert "Rent support" not in page
    assert "Food Share" not in page and "/@food" not in page  # membership is not public


async def test_the_actor_url_serves_the_same_profile_to_browsers_and_json_to_servers(
    instance: Instance,
) -> None:
    await _post(
        instance,
        Draft(Kind.ASK, "Nappies for a newborn", as_group=True),
        Draft(Kind.OFFER, "Soup on Fridays"),
    )

    html = await instance.http.get("/actors/ana", headers={"Accept": "text/html"})
    json = await instance.http.get("/actors/ana", headers={"Accept": AS2})

    assert html.headers["content-type"].startswith("text/html")
    assert "Soup on Fridays" in html.text and "Nappies for a newborn" not in html.text
    assert (
        json.json()["id"] == "http://127.0.0.1:8101/actors/ana" and json.json()["type"] == "Person"
    )


async def test_the_group_page_names_no_member_on_group_items(instance: Instance) -> None:
    await _post(instance, Draft(Kind.ASK, "Nappies for a newborn", as_group=True))

    page = (await instance.http.get("/@food")).text

    assert "Nappies for a newborn" in page and "Ana Quispe" not in page


async def test_the_group_page_has_a_copyable_handle_and_a_follow_on_mastodon_form(
    instance: Instance,
) -> None:
    page = (await instance.http.get("/@food")).text

    assert (
        '<span id="handle">@food@127.0.0.1:8101</span>' in page
    )  # selectable text without JavaScript
    assert 'data-copy-target="handle"' in page and " hidden>" in page  # the script shows the button
    assert '<script src="/static/copy.js" defer></script>' in page
    assert '<form method="get" action="/@food/follow" class="remote-follow">' in page
    assert 'name="account"' in page and "Follow on Mastodon or a similar app" in page
    script = await instance.http.get("/static/copy.js")
    assert script.status_code == 200 and "navigator.clipboard" in script.text


async def test_the_group_page_filters_by_category(instance: Instance) -> None:
    await _post(
        instance,
        Draft(Kind.ASK, "A room for two weeks", category="housing", as_group=True),
        Draft(Kind.ASK, "Rice and beans", category="food", as_group=True),
    )

    housing = (await instance.http.get("/@food?category=housing")).text
    everything = (await instance.http.get("/@food")).text
    unknown = await instance.http.get("/@food?category=nonsense")

    assert "A room for two weeks" in housing and "Rice and beans" not in housing
    assert '<option value="housing" selected>' in housing
    assert "A room for two weeks" in everything and "Rice and beans" in everything
    assert unknown.status_code == 200 and "Rice and beans" not in unknown.text


@pytest.mark.parametrize("path", ["/@ana", "/@food", "/actors/food"])
async def test_profile_pages_have_one_h1_landmarks_and_labelled_controls(
    instance: Instance, path: str
) -> None:
    await _post(instance, Draft(Kind.ASK, "Rice and beans", category="food", as_group=True))

    response = await instance.http.get(path, headers={"Accept": "text/html"})

    page = Page(response.text)
    assert response.status_code == 200
    assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
    assert page.unlabelled() == []
