"""Done when: a moderator approves a pending follower from the browser, and the follower's server
receives the group's Accept, signed so that Mastodon's checks take it."""

import re

from sqlalchemy import select

from models import actors
from models.actors import Role
from models.follows import Follow, FollowState
from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP


async def test_a_moderator_accepts_a_pending_follower_and_the_follower_receives_the_accept(
    site: Site, tab: Tab
) -> None:
    peer, page = site.peer, tab.page
    group_uri = f"{site.base_url}/actors/food"
    async with site.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group.manually_approves_followers = True
        rosa = await actors.create_member(session, "rosa", PASSWORD, "Rosa")
        await actors.join_group(session, group, rosa, Role.MODERATOR)

    # Given a Mastodon user asks to follow the group, which approves its followers by hand
    follow = peer.follow(group_uri)
    assert (await peer.send(f"{group_uri}/inbox", follow)).status_code == 202
    assert await site.process_inbox() == 1
    assert await site.deliver() == 0  # nothing is sent until a moderator decides
    handle = f"@{peer.username}@{peer.host}"

    # When the moderator finds the request from her groups page and accepts it
    await tab.sign_in("rosa", PASSWORD)
    await tab.open("/groups")
    await page.get_by_role("link", name="Moderation").click()
    await page.wait_for_url("**/groups/food/moderation")
    await tab.check()
    requests = page.get_by_role("region", name=re.compile("Pending follow requests"))
    assert handle in await requests.inner_text()
    await tab.screenshot("moderation")
    await tab.submit(requests.get_by_role("button", name=f"Accept {handle}"))

    # Then the page says so and nobody is waiting any more
    assert page.url == f"{site.base_url}/groups/food/moderation"
    assert await page.get_by_role("status").inner_text() == f"{handle} now follows the group."
    assert await requests.get_by_text("No one is waiting.").is_visible()

    # And the follower's server receives the Accept of its Follow, from the group
    await site.deliver()
    assert peer.refused == []
    assert [(a["type"], a["actor"], a["object"]["id"]) for a in peer.received] == [
        ("Accept", group_uri, follow["id"])
    ]
    async with site.runtime.sessions() as session:
        states = list(await session.scalars(select(Follow.state)))
    assert states == [FollowState.ACCEPTED]
