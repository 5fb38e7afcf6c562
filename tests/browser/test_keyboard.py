"""Keyboard users: every stop the Tab key reaches shows a focus ring and is on screen, the first
stop is the skip link, and the sign-in form works with the keyboard alone."""

from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP


async def test_signing_in_with_the_keyboard_alone(site: Site, tab: Tab) -> None:
    await site.set_password("ana")
    await tab.open("/login")
    assert await tab.keyboard_walk() == []

    await tab.page.locator("body").focus()
    await tab.page.keyboard.press("Tab")
    assert await tab.page.evaluate("document.activeElement.textContent") == "Skip to content"
    await tab.page.keyboard.press("Enter")  # the skip link: the next Tab lands in the form
    await tab.page.keyboard.press("Tab")
    assert await tab.page.evaluate("document.activeElement.id") == "username"
    await tab.page.keyboard.type("ana")
    await tab.page.keyboard.press("Tab")
    await tab.page.keyboard.type(PASSWORD)
    async with tab.page.expect_navigation():
        await tab.page.keyboard.press("Enter")
    await tab.check()
    assert await tab.page.get_by_text("Signed in as ana").is_visible()


async def test_every_stop_on_the_member_pages_shows_where_the_focus_is(
    site: Site, tab: Tab
) -> None:
    await site.set_password("ana")
    await tab.sign_in("ana", PASSWORD)
    problems = {}
    for path in [
        "/",
        "/@food",
        "/post",
        "/my/items",
        "/groups",
        "/groups/food/moderation",
        "/groups/food/members",
    ]:
        await tab.open(path)
        problems[path] = await tab.keyboard_walk()
    assert {path: found for path, found in problems.items() if found} == {}
