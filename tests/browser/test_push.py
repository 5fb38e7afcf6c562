"""Web Push on the settings page, in Chromium: the service worker registers from the root under
the page's CSP, the button appears and turns notifications on, or, where the browser's push
service cannot be reached (headless Chromium here has none), the page says so plainly; no
console error either way. Without JavaScript the section stays hidden and the page works."""

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models.push import PushSubscription
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.served import BROWSER_LOOP, Site
from tests.browser.tabs import Tab
from tests.web import PASSWORD

pytestmark = BROWSER_LOOP

TURN_ON = "Turn on notifications on this device"
TURN_OFF = "Turn off notifications on this device"
ON = "Notifications are on for this device."
OFF = "Notifications are off for this device."
UNAVAILABLE = (
    "This browser could not turn on notifications: its push service did not answer. "
    "Try again later."
)

# The button is enabled once the service worker is registered; a failure says so instead.
READY_OR_FAILED = """() => !document.getElementById("push-toggle").disabled
  || document.getElementById("push-status").textContent !== ''"""
REGISTERED = """() => navigator.serviceWorker.getRegistration("/").then((r) => r
  ? [r.scope, (r.active || r.waiting || r.installing).scriptURL] : null)"""


async def subscriptions(site: Site) -> list[str]:
    async with site.runtime.sessions() as session:
        return list(await session.scalars(select(PushSubscription.endpoint)))


async def status_text(tab: Tab) -> str:
    status = tab.page.locator("#push-status")
    await tab.page.wait_for_function(
        "() => document.getElementById('push-status').textContent.trim() !== ''",
        timeout=30_000,  # push.js gives a push service out of reach 10 s
    )
    return str(await status.inner_text())


async def test_the_service_worker_registers_under_the_csp_and_the_button_turns_push_on(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    # Not incognito, as Playwright's usual contexts are: Chromium has no Push API there.
    context = await browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        base_url=site.base_url,
        permissions=["notifications"],
    )
    try:
        context.set_default_timeout(15_000)
        tab = Tab(await context.new_page())
        await site.set_password("ana")
        await tab.sign_in("ana", PASSWORD)
        await tab.open("/my/account")
        page = tab.page

        button = page.get_by_role("button", name=TURN_ON)
        await button.wait_for(state="visible")
        await page.wait_for_function(READY_OR_FAILED)
        assert await page.locator("#push-status").inner_text() == ""  # no failure said
        assert await page.evaluate(REGISTERED) == [f"{site.base_url}/", f"{site.base_url}/sw.js"]

        await button.click()
        said = await status_text(tab)

        if said == ON:  # a browser whose push service answered
            assert len(await subscriptions(site)) == 1
            await page.get_by_role("button", name=TURN_OFF).click()
            await page.wait_for_function(
                f"() => document.getElementById('push-status').textContent === {OFF!r}"
            )
            assert await subscriptions(site) == []
        else:  # no way to Chromium's push service from here: a message, not an error
            assert said == UNAVAILABLE
            assert await subscriptions(site) == []
            assert await button.is_enabled()
        await tab.check()
        tab.audit()
    finally:
        await context.close()


async def test_a_denied_permission_is_explained(site: Site, tab: Tab) -> None:
    await site.set_password("ana")
    await tab.sign_in("ana", PASSWORD)
    await tab.open("/my/account")
    button = tab.page.get_by_role("button", name=TURN_ON)
    await tab.page.wait_for_function(READY_OR_FAILED)

    await button.click()  # headless Chromium answers a permission prompt with "denied"

    assert (await status_text(tab)).startswith("This browser blocks notifications from this site")
    assert await subscriptions(site) == []


async def test_without_javascript_the_section_stays_hidden(site: Site, browser: Any) -> None:
    await site.set_password("ana")
    context = await browser.new_context(base_url=site.base_url, java_script_enabled=False)
    try:
        tab = Tab(await context.new_page(), scripts=False)
        await tab.sign_in("ana", PASSWORD)
        await tab.open("/my/account")

        assert await tab.page.locator("#push").is_hidden()
        assert await tab.page.get_by_role("heading", name="Your data").is_visible()
        tab.audit()
    finally:
        await context.close()


async def test_the_service_worker_shows_a_message_and_opens_only_pages_of_this_site(
    site: Site, tab: Tab
) -> None:
    page = tab.page
    await page.context.grant_permissions(["notifications"], origin=site.base_url)
    await site.set_password("ana")
    await tab.sign_in("ana", PASSWORD)
    devtools = await page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    await devtools.send("ServiceWorker.enable")
    await tab.open("/my/account")
    await page.wait_for_function(READY_OR_FAILED)
    assert await page.evaluate(REGISTERED) is not None
    assert await page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    [registration] = {r["registrationId"] for r in registrations if not r["isDeleted"]}

    # What a push service hands the worker once the browser has decrypted it
    for message in (
        {"title": "Urgent call", "body": "People are needed.", "url": "/items/1", "tag": "a"},
        {"title": "Elsewhere", "body": "", "url": "https://elsewhere.example/x", "tag": "b"},
    ):
        await devtools.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": site.base_url, "registrationId": registration, "data": json.dumps(message)},
        )
    shown: list[list[str]] = []
    async with asyncio.timeout(15):  # the worker shows them in its own time
        while len(shown) < 2:
            await asyncio.sleep(0.05)
            shown = await page.evaluate(
                "() => navigator.serviceWorker.ready.then((r) => r.getNotifications())"
                ".then((shown) => shown.map((n) => [n.title, n.body, n.tag, n.data.url]))"
            )

    assert sorted(shown) == [
        ["Elsewhere", "", "b", f"{site.base_url}/"],
        ["Urgent call", "People are needed.", "a", f"{site.base_url}/items/1"],
    ]
