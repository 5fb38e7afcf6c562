"""Done when: an admin runs federation from the browser. Here: blocks a domain at /admin/federation,
and the block is in force at once, for the inbox and for outgoing fetches."""

import re

import httpx
import pytest

from federation.errors import Refused
from models import actors
from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.peers import MastodonPeer
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP

BLOCKED = "spam.example"


async def test_an_admin_blocks_a_domain_and_the_block_is_in_force(site: Site, tab: Tab) -> None:
    page = tab.page
    async with site.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "root", PASSWORD, "Root", is_admin=True)
    assert not await site.runtime.blocklist.blocks(BLOCKED)

    # The admin goes from the overview to the federation page and blocks the domain
    await tab.sign_in("root", PASSWORD)
    await tab.open("/admin")
    await (
        page.get_by_role("navigation", name="Administration")
        .get_by_role("link", name="Federation")
        .click()
    )
    await page.wait_for_url("**/admin/federation")
    await tab.check()
    blocks = page.get_by_role("region", name="Blocked domains")
    assert await blocks.get_by_text("No domain is blocked.").is_visible()
    assert await tab.keyboard_walk() == []
    await blocks.get_by_label("Domain").fill(BLOCKED)
    await blocks.get_by_label("Reason (optional)").fill("spam waves")
    await tab.submit(blocks.get_by_role("button", name="Block", exact=True))

    # The page confirms it and lists the block, with a way back out and the CSV export
    assert page.url == f"{site.base_url}/admin/federation#main"  # the confirmation in view
    assert BLOCKED in await page.get_by_role("status").inner_text()
    listed = blocks.get_by_role("listitem").filter(has_text=BLOCKED)
    assert re.sub(r"\s+", " ", await listed.inner_text()).startswith(f"{BLOCKED} spam waves")
    assert await listed.get_by_role("button", name=f"Unblock {BLOCKED}").is_visible()
    exported = await page.request.get("/admin/federation/blocks.csv")
    assert exported.ok and BLOCKED in await exported.text()
    await tab.screenshot("admin-federation")

    # In force: the domain and its subdomains are refused, by the rules the inbox reads...
    assert await site.runtime.blocklist.blocks(BLOCKED)
    assert await site.runtime.blocklist.blocks(f"social.{BLOCKED}")
    assert not await site.runtime.blocklist.blocks("elsewhere.example")
    # ...by outgoing fetches, before any connection is tried...
    with pytest.raises(Refused, match="blocked"):
        await site.runtime.fetch(f"https://{BLOCKED}/users/spammer")
    # ...and by the served inbox, for a signed delivery from there over real HTTP
    spammer = MastodonPeer(f"https://{BLOCKED}", httpx.AsyncHTTPTransport(), username="spammer")
    try:
        response = await spammer.send(
            f"{site.base_url}/inbox", spammer.follow(f"{site.base_url}/actors/food")
        )
    finally:
        await spammer.aclose()
    assert response.status_code == 403, response.text
