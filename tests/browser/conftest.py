"""Browser tests: a real Ayni instance served by uvicorn, driven by headless Chromium (Playwright).

The browser is Debian's `chromium` (/usr/bin/chromium, or AYNI_TEST_CHROMIUM), not Playwright's own
download. Without it the browser tests skip locally; under CI (CI=true) they fail instead, the way
the PostgreSQL tests do; the same for axe-core (from npm, see tabs.py). One browser per session,
a fresh context (no cookies) per test.
"""

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.browser.served import Site, network_with_peer, served
from tests.browser.tabs import AXE, SCREENSHOTS, Tab

CHROMIUM = os.environ.get("AYNI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]


def require_browser() -> None:
    """Skip without Chromium or Playwright, except under CI, where the browser tests must run."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    elif not AXE.exists():
        missing = f"axe-core is missing at {AXE} (npm install --prefix test-output axe-core)"
    else:
        try:
            import playwright.async_api  # noqa: F401  only whether it imports
        except ImportError:
            missing = "the playwright package is missing (pip install -e '.[test]')"
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {missing}: the browser tests must run under CI")
    pytest.skip(f"browser tests: {missing}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def site(browser: Any, tmp_path: Path) -> AsyncIterator[Site]:
    """A fresh instance per test (needs the browser first: no browser, no instance started)."""
    async with (
        network_with_peer() as (network, peer),
        served(tmp_path / "site.db", network, peer) as running,
    ):
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def other_site(site: Site, tmp_path: Path) -> AsyncIterator[Site]:
    """A second instance on the same in-process network, for federation between two instances."""
    async with served(tmp_path / "other.db", site.network, site.peer) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def new_tab(browser: Any, site: Site) -> AsyncIterator[Callable[..., Awaitable[Tab]]]:
    """Opens tabs in fresh browser contexts (separate cookies: one person each), on `site` or on
    the one given; each is audited (every page checked, no browser errors) when the test ends."""
    contexts: list[Any] = []
    tabs: list[Tab] = []

    async def opened(on: Site = site) -> Tab:
        context = await browser.new_context(base_url=on.base_url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        tabs.append(Tab(await context.new_page()))
        return tabs[-1]

    try:
        yield opened
        for each in tabs:
            each.audit()
    finally:
        for context in contexts:
            await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def tab(new_tab: Callable[..., Awaitable[Tab]]) -> Tab:
    return await new_tab()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    taken = sorted(SCREENSHOTS)
    if taken:
        terminalreporter.section("browser screenshots")
        for path in taken:
            terminalreporter.write_line(str(path))
