"""Done when: a moderator approves a pending follower from the browser, and the follower's server
receives the group's Accept, signed so that Mastodon's checks take it."""

import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from federation.itemterms import Kind
from models import actors, posting
from models.actors import Role
from models.follows import Follow, FollowState
from models.posting import Draft
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


async def test_a_member_reports_an_item_and_a_moderator_resolves_it_from_the_badge(
    site: Site, new_tab: Callable[..., Awaitable[Tab]]
) -> None:
    async with site.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        rosa = await actors.create_member(session, "rosa", PASSWORD, "Rosa")
        ben = await actors.create_member(session, "ben", PASSWORD, "Ben")
        await actors.join_group(session, group, rosa, Role.MODERATOR)
        await actors.join_group(session, group, ben, Role.MEMBER)
        item = await posting.create_item(
            session, site.runtime.uris, group, ana, Draft(Kind.OFFER, "Cheap phones, DM me")
        )

    # Given a member reports an item from its page
    member = await new_tab()
    await member.sign_in("ben", PASSWORD)
    await member.open(f"/items/{item.uuid}")
    await member.submit(member.page.get_by_role("link", name="Report to the moderators"))
    await member.page.get_by_label("What is wrong? (optional)").fill("This is a scam")
    await member.submit(member.page.get_by_role("button", name="Send the report"))
    assert (
        "moderators will look at your report"
        in await member.page.get_by_role("status").inner_text()
    )

    # When the moderator follows the badge in the navigation to the report
    moderator = await new_tab()
    page = moderator.page
    await moderator.sign_in("rosa", PASSWORD)
    badge = page.get_by_role("link", name=re.compile("To moderate"))
    assert "1 waiting" in await badge.inner_text()
    await moderator.submit(badge)
    assert page.url == f"{site.base_url}/groups/food/moderation"
    reports = page.get_by_role("region", name=re.compile("Reports"))
    text = await reports.inner_text()
    assert "This is a scam" in text and "Cheap phones, DM me" in text and "Ben" in text
    await moderator.screenshot("report")
    await moderator.submit(reports.get_by_role("button", name="Mark resolved"))

    # Then the report is resolved: off the list and off the badge
    assert await page.get_by_role("status").inner_text() == "The report is marked resolved."
    assert await reports.get_by_text("No reports.").is_visible()
    assert await page.get_by_role("link", name=re.compile("To moderate")).count() == 0
