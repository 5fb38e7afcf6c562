"""Done when: an admin runs federation in the browser. Two instances served side by side: the
admin of one makes its group follow the other's group by handle; once accepted, what a member of
the other group posts in her browser shows on the first instance's network board."""

from collections.abc import Awaitable, Callable

from models import actors
from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP

TITLE = "Rice for the community kitchen"


async def run_queues(*sites: Site) -> None:
    """Deliver and receive until nothing moves, as the workers of both instances would."""
    for _ in range(10):
        moved = 0
        for each in sites:
            moved += await each.deliver()
            moved += await each.process_inbox()
        if not moved:
            return
    raise AssertionError("the queues kept moving")


async def test_an_admin_makes_a_group_follow_a_remote_group_whose_ask_then_reaches_the_board(
    site: Site, other_site: Site, tab: Tab, new_tab: Callable[..., Awaitable[Tab]]
) -> None:
    async with site.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "root", PASSWORD, "Root", is_admin=True)
    await other_site.set_password("ana")
    remote_handle = f"@food@{other_site.host}"
    page = tab.page

    # The admin of the first instance follows the other instance's group by its handle
    await tab.sign_in("root", PASSWORD)
    await tab.open("/admin/federation")
    follows = page.get_by_role("region", name="Groups following groups")
    await follows.locator("#follow-group").select_option(value="food")  # not the allies form's
    await follows.get_by_label("Group to follow").fill(remote_handle)
    await tab.submit(follows.get_by_role("button", name="Follow", exact=True))
    assert "asked to follow" in await page.get_by_role("status").inner_text()
    relation = follows.get_by_role("listitem").filter(has_text=remote_handle)
    assert "pending" in await relation.inner_text()

    # The other group accepts (it approves followers automatically)
    await run_queues(site, other_site)
    await tab.open("/admin/federation")
    assert "accepted" in await relation.inner_text()

    # A member of the other group posts a public ask as the group, in her own browser
    member = await new_tab(other_site)
    await member.sign_in("ana", PASSWORD)
    await member.open("/post")
    await member.page.get_by_label("Ask", exact=True).check()
    await member.page.get_by_label("Title").fill(TITLE)
    await member.page.get_by_label("Public").check()
    await member.page.get_by_label("Post as the group").check()
    await member.submit(member.page.get_by_role("button", name="Post", exact=True))
    assert "/items/" in member.page.url

    # It reaches the followers, and the first instance's board shows it, from the remote group
    await run_queues(site, other_site)
    await tab.open("/board")
    listed = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=TITLE))
    assert await listed.count() == 1
    assert "Food Share" in await listed.inner_text()
    assert await listed.get_by_role("link", name=TITLE).get_attribute("href") == member.page.url


async def test_follow_from_your_server_takes_a_visitor_home_to_make_her_group_follow(
    site: Site, other_site: Site, new_tab: Callable[..., Awaitable[Tab]]
) -> None:
    """On the other instance's group page, "Follow on Mastodon or a similar app" sends the visitor
    to her own instance, which asks her to sign in and then makes her group follow that group."""
    await site.set_password("ana")  # an admin of the group `food` on her own instance
    visitor = await new_tab(other_site)
    page = visitor.page
    await visitor.open("/@food")
    await page.get_by_label("your account or your server").fill(f"ana@{site.host}")
    await visitor.submit(page.get_by_role("button", name="Follow on Mastodon or a similar app"))

    # Home, on her own instance: sign in first, then back to the follow page
    assert page.url.startswith(f"{site.base_url}/login?next=")
    await page.get_by_label("Username").fill("ana")
    await page.get_by_label("Password").fill(PASSWORD)
    await visitor.submit(page.get_by_role("button", name="Sign in"))
    assert page.url.startswith(f"{site.base_url}/authorize_interaction?uri=")
    assert f"@food@{other_site.host}" in await page.get_by_role("main").inner_text()
    await visitor.submit(page.get_by_role("button", name="Follow as Food Share"))
    assert "asked to follow them" in await page.get_by_role("status").inner_text()

    await run_queues(site, other_site)
    await visitor.open(
        f"{site.base_url}/authorize_interaction?uri={other_site.base_url}/actors/food"
    )
    assert await page.get_by_text("Food Share already follows them.").is_visible()
