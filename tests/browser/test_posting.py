"""Done when: a new member goes from an invitation link to a published ask, entirely in the browser.

Two people, two browsers: the group's admin creates the link on the members page; the new member
opens it, chooses a username and a password, and posts an ask as the group, which then shows on
the group page without her name."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP

TITLE = "Nappies, size 4"
DETAILS = "Two packs would get us through the week."


async def test_a_new_member_joins_from_an_invitation_and_posts_an_ask_as_the_group(
    site: Site, tab: Tab, new_tab: Callable[[], Awaitable[Tab]]
) -> None:
    # The group's admin creates an invitation link
    await site.set_password("ana")
    admin = tab.page
    await tab.sign_in("ana", PASSWORD)
    await tab.open("/groups")
    await admin.get_by_role("link", name="Members and invitations").click()
    await admin.wait_for_url("**/groups/food/members")
    await tab.check()
    await admin.get_by_label("Their role in the group").select_option(value="member")
    await tab.submit(admin.get_by_role("button", name="Create an invitation link"))
    link = await admin.get_by_label("Send this link to the person you invite").input_value()
    assert link.startswith(f"{site.base_url}/invite/")

    # The new member opens it in her own browser and chooses a username and a password
    member = await new_tab()
    page = member.page
    await member.open(link)
    assert await page.get_by_role("heading", level=1).inner_text() == "Join Food Share"
    await page.get_by_label("Username").fill("bea")
    await page.get_by_label("Display name (optional)").fill("Bea Quispe")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Password again").fill(PASSWORD)
    await member.submit(page.get_by_role("button", name="Join the group"))

    # Signed in, straight on to the post form
    assert page.url == f"{site.base_url}/post"
    assert await page.get_by_text("Signed in as bea").is_visible()
    await member.screenshot("post-form")

    # An ask, posted as the group
    await page.get_by_label("Ask", exact=True).check()
    await page.get_by_label("Title").fill(TITLE)
    await page.get_by_label("Public").check()  # nothing is chosen for her
    await page.get_by_label("Post as the group").check()
    await page.get_by_text("Add details").click()
    await page.get_by_label("Details").fill(DETAILS)
    await page.get_by_text("Add a place (needed for calls)").click()
    await page.get_by_label("Area name (optional for asks and offers)").fill("Lavapiés")
    await member.submit(page.get_by_role("button", name="Post", exact=True))

    assert "/items/" in page.url
    assert TITLE in await page.get_by_role("heading", level=1).inner_text()
    assert await page.get_by_role("status").filter(has_text="Posted.").is_visible()
    facts = await page.get_by_role("main").inner_text()
    assert "Food Share" in facts
    assert "Posted by" not in facts and "Bea Quispe" not in facts

    # Signed out, anyone sees it on the group page, and nothing there names her
    await member.submit(page.get_by_role("button", name="Sign out"))
    await member.open("/@food")
    listed = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=TITLE))
    assert await listed.count() == 1
    assert "Lavapiés" in await listed.inner_text()
    assert "by " not in await listed.inner_text()
    assert "Bea" not in await page.content()
    await member.screenshot("group-page-with-ask")
    await listed.get_by_role("link", name=TITLE).click()
    await page.wait_for_url("**/items/*")
    await member.check()
    assert "Bea" not in await page.content()
    assert DETAILS in await page.get_by_role("main").inner_text()

    # The link worked once: the admin's page no longer lists it as pending
    await tab.open("/groups/food/members")
    assert await admin.get_by_text("No pending invitations.").is_visible()


PHONE = {"width": 390, "height": 844}


async def test_on_a_phone_a_member_posts_an_ask_within_one_screen_and_a_half(
    site: Site, tab: Tab
) -> None:
    await site.set_password("ana")
    await tab.page.set_viewport_size(PHONE)
    await tab.sign_in("ana", PASSWORD)
    page = tab.page
    await tab.open("/post")

    await page.get_by_label("Ask", exact=True).check()
    await page.get_by_label("Title").fill("Rice and lentils for a family of five")
    await page.get_by_label("Members only").check()
    post = page.get_by_role("button", name="Post", exact=True)
    top = await post.evaluate("(button) => button.getBoundingClientRect().top + window.scrollY")

    assert top + 44 <= 1.5 * PHONE["height"], f"the Post button is {top} px down the page"
    await tab.submit(post)
    assert "/items/" in page.url
    assert await page.get_by_text("Members only").first.is_visible()


async def test_right_to_left_and_unbroken_titles_keep_the_phone_page_its_width(
    site: Site, tab: Tab
) -> None:
    await site.set_password("ana")
    await tab.page.set_viewport_size(PHONE)
    await tab.sign_in("ana", PASSWORD)
    page = tab.page
    titles = ["نحتاج إلى حفاضات مقاس ٤ لطفل حديث الولادة", "x" * 200]
    for title in titles:
        await tab.open("/post")
        await page.get_by_label("Offer", exact=True).check()
        await page.get_by_label("Title").fill(title)
        await page.get_by_label("Public").check()
        await tab.submit(page.get_by_role("button", name="Post", exact=True))
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the item page is {width} px wide"
        assert await page.locator("h1 bdi").inner_text() == title

    await tab.open("/@food")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    arabic = page.get_by_role("link", name=titles[0])
    assert await arabic.get_attribute("dir") == "auto"
    assert await arabic.evaluate("(link) => getComputedStyle(link).direction") == "rtl"
    await tab.screenshot("group-page-real-text")


async def test_a_404_and_a_410_page_pass_the_accessibility_check(site: Site, tab: Tab) -> None:
    await site.set_password("ana")
    await tab.sign_in("ana", PASSWORD)
    page = tab.page
    await tab.open("/post")
    await page.get_by_label("Title").fill("Soon gone")
    await page.get_by_label("Public").check()
    await tab.submit(page.get_by_role("button", name="Post", exact=True))
    item = page.url
    await tab.screenshot("item")

    await tab.open("/@nobody", status=404)  # Tab.open runs our checks and axe-core's
    assert await page.get_by_role("heading", level=1).inner_text() == "Not found"
    await page.goto(item.replace(site.base_url, "") + "/delete")
    await tab.check()
    await tab.submit(page.get_by_role("button", name="Delete it"))
    await tab.open(item.replace(site.base_url, ""), status=410)
    assert await page.get_by_role("heading", level=1).inner_text() == "Gone: deleted"


async def test_a_call_opens_its_own_fields_and_shows_its_time_zone(site: Site, tab: Tab) -> None:
    await site.set_password("ana")
    await tab.sign_in("ana", PASSWORD)
    page = tab.page
    await tab.open("/post")

    await page.get_by_label("Call", exact=True).check()  # item-form.js opens what a call needs
    await page.get_by_label("Title").fill("Unload the food bank van")
    await page.get_by_label("Members only").check()
    starts = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT10:00")
    await page.get_by_label("Starts").fill(starts)
    await page.get_by_label("People wanted").fill("6")
    await page.get_by_label("Area name (optional for asks and offers)").fill("Market hall")
    assert await page.get_by_text("Times are in the time zone").is_visible()
    assert not await page.get_by_label(
        "Needed by (asks) or available until (offers), optional"
    ).is_visible()
    await tab.submit(page.get_by_role("button", name="Post", exact=True))

    assert "/items/" in page.url
    await tab.screenshot("call")
