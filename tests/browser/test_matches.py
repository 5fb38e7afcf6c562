"""Done when: an ask meets an offer of another group. Ana's ask in Food Share and Uma's offer in
the Tool Library, a few streets apart: Ana sees the offer among her ask's possible matches and
introduces it; Uma is told in her notifications, answers "Yes" on her offer's page, and each
sees whom to write to. Every page passes our checks and axe-core's."""

from collections.abc import Awaitable, Callable

from federation.itemterms import Kind
from federation.places import Place
from models import actors, posting
from models.actors import Role
from models.posting import Draft
from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP

ASK = "Soup for ten on Friday"
OFFER = "A big soup pot to lend"


async def test_an_ask_is_introduced_to_another_groups_offer_and_both_see_whom_to_write_to(
    site: Site, tab: Tab, new_tab: Callable[[], Awaitable[Tab]]
) -> None:
    # Given Ana's ask in Food Share and Uma's offer in the Tool Library, about 3 km apart
    await site.set_password("ana")
    async with site.runtime.sessions() as session, session.begin():
        uris = site.runtime.uris
        food = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert food is not None and ana is not None
        tools = await actors.create_group(session, "tools", "Tool Library")
        uma = await actors.create_member(session, "uma", PASSWORD, "Uma Condori")
        await actors.join_group(session, tools, uma, Role.MEMBER)
        ask = await posting.create_item(
            session,
            uris,
            food,
            ana,
            Draft(
                Kind.ASK,
                ASK,
                category="food",
                as_group=True,
                place=Place("Lavapiés", 40.4087, -3.7003),
            ),
        )
        offer = await posting.create_item(
            session,
            uris,
            tools,
            uma,
            Draft(
                Kind.OFFER,
                OFFER,
                category="food",
                as_group=False,
                place=Place("Chamberí", 40.4346, -3.7035),
            ),
        )

    # Ana sees the offer among her ask's possible matches, and introduces it
    await tab.sign_in("ana", PASSWORD)
    await tab.open(f"/items/{ask.uuid}")
    matches = tab.page.get_by_role("region", name="Possible matches")
    assert OFFER in await matches.inner_text()
    await tab.submit(matches.get_by_role("button", name=f"Introduce: {OFFER}"))
    assert await tab.page.get_by_role("status").filter(has_text="Asked").is_visible()
    assert "waiting for their answer" in await matches.inner_text()

    # Uma is told in her notifications, and answers on her offer's page
    other = await new_tab()
    await other.sign_in("uma", PASSWORD)
    await other.open("/notifications")
    told = other.page.get_by_role("listitem").filter(has_text="put in touch")
    assert await told.count() == 1
    await told.get_by_role("link", name=OFFER).click()
    await other.page.wait_for_url(f"**/items/{offer.uuid}#introductions")
    await other.check()
    question = other.page.get_by_role("region", name="Groups that would like to put you in touch")
    assert ASK in await question.inner_text()
    # the ask that asked is not offered again to introduce the other way
    assert await other.page.get_by_role("button", name=f"Introduce: {ASK}").count() == 0
    await other.submit(question.get_by_role("button", name="Yes"))
    assert f"write to @food@{site.host}" in await question.inner_text()
    assert "Ana" not in await question.inner_text()  # the ask was posted as the group
    await other.screenshot("introduction-answered")

    # And Ana sees whom to write to
    await tab.open(f"/items/{ask.uuid}")
    assert f"@uma@{site.host}" in await matches.inner_text()
