"""Done when: every "I can help" can be answered. Two members, two browsers: Bea says she can
help with Ana's ask, with a message; Ana answers her privately from the item's page; Bea is told
in her notifications and reads the answer on the item's page."""

from collections.abc import Awaitable, Callable

from federation.itemterms import Kind
from models import actors, posting
from models.actors import Role
from models.posting import Draft
from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP

TITLE = "A lift to the clinic on Tuesday"
MESSAGE = "I have a car and I'm free after six."
ANSWER = "Thank you, Bea! Could you be here at half past six?"


async def test_a_member_answers_another_members_i_can_help_privately_and_she_reads_it(
    site: Site, tab: Tab, new_tab: Callable[[], Awaitable[Tab]]
) -> None:
    # Given Ana's ask in Food Share, and Bea, another member
    await site.set_password("ana")
    async with site.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert food is not None and ana is not None
        bea = await actors.create_member(session, "bea", PASSWORD, "Bea Quispe")
        await actors.join_group(session, food, bea, Role.MEMBER)
        item = await posting.create_item(
            session, site.runtime.uris, food, ana, Draft(Kind.ASK, TITLE, category="transport")
        )
    path = f"/items/{item.uuid}"

    # Bea says she can help, with a message for Ana
    helper = await new_tab()
    await helper.sign_in("bea", PASSWORD)
    await helper.open(path)
    await helper.page.get_by_label("A message (optional)").fill(MESSAGE)
    await helper.submit(helper.page.get_by_role("button", name="I can help"))
    assert await helper.page.get_by_role("status").filter(has_text="Thank you").is_visible()

    # Ana reads it on the item's page and answers privately
    author = tab.page
    await tab.sign_in("ana", PASSWORD)
    await tab.open(path)
    answers = author.get_by_role("region", name="Every answer, for you and the group's moderators")
    assert MESSAGE in await answers.inner_text()
    await author.get_by_label("Answer privately").fill(ANSWER)
    await tab.submit(author.get_by_role("button", name="Send"))
    assert await author.get_by_role("status").filter(has_text="Answered privately").is_visible()

    # Bea is told in her notifications, which do not say what Ana wrote
    bea_page = helper.page
    await helper.open("/notifications")
    told = bea_page.get_by_role("listitem").filter(has_text="has a private reply")
    assert await told.count() == 1
    assert ANSWER not in await bea_page.get_by_role("main").inner_text()
    await told.get_by_role("link", name=TITLE).click()
    await bea_page.wait_for_url(f"**{path}#my-response")
    await helper.check()

    # And reads the conversation on the item's page: her message and Ana's answer
    mine = bea_page.get_by_role("region", name="Your answer")
    text = await mine.inner_text()
    assert MESSAGE in text and ANSWER in text and "Private answer from Ana" in text
    await helper.screenshot("item-private-answer")
