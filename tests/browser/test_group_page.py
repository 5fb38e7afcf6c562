"""The harness itself, on pages that exist from the start: sign in, then the group page."""

from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP


async def test_a_member_signs_in_and_sees_the_group_page(site: Site, tab: Tab) -> None:
    await site.set_password("ana")
    await tab.open("/login")
    await tab.page.get_by_label("Username").fill("ana")
    await tab.page.get_by_label("Password").fill("not it")
    await tab.submit(tab.page.get_by_role("button", name="Sign in"), status=400)
    assert (
        await tab.page.get_by_role("alert").inner_text()
        == "That username and password do not match."
    )

    await tab.sign_in("ana", PASSWORD)
    await tab.open("/@food")

    assert await tab.page.get_by_role("heading", level=1).inner_text() == "Food Share"
    handle = f"@food@{site.host}"
    assert await tab.page.get_by_text(handle, exact=True).is_visible()
    await tab.page.get_by_text("Filters", exact=True).click()  # behind a disclosure: items first
    await tab.page.get_by_label("Kind").select_option(label="Asks")
    await tab.submit(tab.page.get_by_role("button", name="Filter"))
    assert tab.page.url.endswith("/@food?kind=ask&status=")
    await tab.screenshot("group-page")


async def test_a_page_that_needs_a_member_sends_the_browser_to_sign_in_and_back(
    site: Site, tab: Tab
) -> None:
    await site.set_password("ana")
    await tab.open("/login?next=/@food")
    await tab.page.get_by_label("Username").fill("ana")
    await tab.page.get_by_label("Password").fill(PASSWORD)
    await tab.submit(tab.page.get_by_role("button", name="Sign in"))
    assert tab.page.url == f"{site.base_url}/@food"


async def test_the_copy_button_puts_the_group_handle_on_the_clipboard(site: Site, tab: Tab) -> None:
    """copy.js runs under the strict CSP, and tells screen readers it copied."""
    await tab.page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=site.base_url
    )
    await tab.open("/@food")
    await tab.page.get_by_role("button", name="Copy handle").click()
    await (
        tab.page.get_by_role("status").filter(has_text="Copied").wait_for()
    )  # once the copy is done
    assert await tab.page.evaluate("navigator.clipboard.readText()") == f"@food@{site.host}"


async def test_the_footer_switches_the_language_and_keeps_the_page(site: Site, tab: Tab) -> None:
    await tab.open("/@food?kind=ask")
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("contentinfo").get_by_role("link", name="Español").click()
    await tab.check()
    assert tab.page.url.startswith(f"{site.base_url}/@food")
    assert await tab.page.get_attribute("html", "lang") == "es"
    assert (
        await tab.page.get_by_role("link", name="Español").get_attribute("aria-current") == "true"
    )
