"""A browser tab that checks every page it lands on, and the few steps every flow shares.

`Tab.open` and `Tab.submit` navigate, assert the status, then run the accessibility check in the
page itself (on the DOM Chromium built, not on the HTML text). When the test ends, `audit` fails
it if a page was loaded but never checked, or if the browser logged an error (a CSP violation,
a failed script or stylesheet, a JavaScript exception).
"""

import os
from functools import cache
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
SCREENSHOT_DIRECTORY = OUTPUT / "screenshots"
# axe-core, from npm (`.ci/run`: npm install --prefix test-output axe-core), or AYNI_TEST_AXE.
AXE = Path(os.environ.get("AYNI_TEST_AXE", OUTPUT / "node_modules" / "axe-core" / "axe.min.js"))
# Run in the page through the browser's DevTools protocol, which the page's CSP does not govern.
AXE_RUN = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.impact} ${violation.id}: ${violation.help} at `
      + violation.nodes.slice(0, 3).map((node) => node.target.join(" ")).join("; "));
}"""
SCREENSHOTS: set[Path] = set()  # listed at the end of the run
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

# Returns a list of problems, empty when the page passes.
ACCESSIBILITY = """() => {
  const problems = [];
  const text = (element) => (element ? element.textContent.trim() : "");
  const named = (element, attribute) => (element.getAttribute(attribute) || "").split(/\\s+/)
    .filter(Boolean).map((id) => document.getElementById(id));
  const buttons = new Set(["hidden", "submit", "reset", "button", "image"]);
  for (const control of document.querySelectorAll("input, select, textarea")) {
    if (control.tagName === "INPUT" && buttons.has(control.type)) continue;
    const labelled = [...control.labels].some((label) => text(label))
      || (control.getAttribute("aria-label") || "").trim()
      || named(control, "aria-labelledby").some((element) => text(element));
    if (!labelled) {
      problems.push(`unlabelled ${control.tagName.toLowerCase()} name=${control.name}`);
    }
  }
  for (const element of document.querySelectorAll("[aria-describedby]")) {
    if (named(element, "aria-describedby").some((target) => !target)) {
      problems.push(`aria-describedby of ${element.name || element.tagName} names a missing id`);
    }
  }
  const h1s = document.querySelectorAll("h1").length;
  if (h1s !== 1) problems.push(`${h1s} h1 elements, not 1`);
  const landmarks = { header: "banner", nav: "navigation", main: "main", footer: "contentinfo" };
  for (const [tag, role] of Object.entries(landmarks)) {
    if (!document.querySelector(`${tag}, [role=${role}]`)) problems.push(`no ${tag} landmark`);
  }
  const ids = [...document.querySelectorAll("[id]")].map((element) => element.id);
  const repeated = [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
  if (repeated.length) problems.push(`repeated ids (labels may point elsewhere): ${repeated}`);
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (!document.title.trim()) problems.push("empty <title>");
  for (const image of document.querySelectorAll("img:not([alt])")) {
    problems.push(`no alt: ${image.src}`);
  }
  return problems;
}"""

# Where the keyboard focus is, and whether a sighted keyboard user can see it.
FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  // Focus inside the browser's own parts of a control (a date field's calendar button): the
  // control itself is not :focus, and pages cannot style those parts.
  const inner = !element.matches(":focus");
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  const what = element.getAttribute("aria-label") || element.name || element.id
    || element.textContent.trim().slice(0, 40);
  return {
    element: `${element.tagName.toLowerCase()} ${what}`,
    ringed: inner || (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== "none",
    shown: box.width > 0 && box.height > 0 && box.right > 0 && box.left < window.innerWidth,
  };
}"""
MAX_TABS = 150


@cache
def axe_source() -> str:
    # Ends in an expression, so that `evaluate` runs it as a script (defining window.axe).
    return AXE.read_text(encoding="utf-8") + "\n;void 0;"


def _page_of(url: str) -> str:
    """A URL without its #fragment: following an in-page link does not load another page."""
    return url.split("#", 1)[0]


class Tab:
    def __init__(self, page: Any, *, scripts: bool = True) -> None:
        """`scripts=False` for a context without JavaScript: axe-core needs the page's timers
        there, so such a tab gets our own checks only (the same pages are axe-checked with
        JavaScript in the other flows)."""
        self.page = page
        self.scripts = scripts
        self.errors: list[str] = []
        self.loaded: list[str] = []
        self.checked: set[str] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("framenavigated", self._navigated)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # Failed loads are judged by `_response`: a page's own status is the test's to assert.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"{self.page.url}: {message.text}")

    def _response(self, response: Any) -> None:
        request = response.request
        if request.resource_type == "document" or request.url.endswith("/favicon.ico"):
            return
        if response.status >= 400:
            self.errors.append(f"{self.page.url}: {request.url} answered {response.status}")

    def _navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame and frame.url.startswith("http"):
            self.loaded.append(_page_of(frame.url))

    async def open(self, path: str, status: int = 200) -> Any:
        response = await self.page.goto(path)
        assert response is not None, f"no response for {path}"
        await self._landed(response, status)
        return response

    async def submit(self, button: Any, status: int = 200) -> Any:
        """Clicks a form's button and waits for the page the server answers with (after any
        redirect: a successful POST answers 303, then the browser GETs the next page)."""
        async with self.page.expect_navigation() as navigation:
            await button.click()
        response = await navigation.value
        await self._landed(response, status)
        return response

    async def _landed(self, response: Any, status: int) -> None:
        if response.status != status:
            body = (await response.text())[:800]
            raise AssertionError(f"{response.url}: status {response.status}, not {status}\n{body}")
        await self.check()

    async def check(self) -> None:
        """Our own checks, then axe-core's: no serious or critical violation."""
        problems = await self.page.evaluate(ACCESSIBILITY)
        assert problems == [], f"accessibility of {self.page.url}: {problems}"
        if self.scripts:
            if not await self.page.evaluate("() => typeof axe !== 'undefined'"):
                await self.page.evaluate(axe_source())
            violations = await self.page.evaluate(AXE_RUN)
            assert violations == [], f"axe-core on {self.page.url}: {violations}"
        self.checked.add(_page_of(self.page.url))

    async def keyboard_walk(self) -> list[str]:
        """Tabs through the whole page; returns each focused element that has no visible focus
        ring or is off screen. Fails if the page holds the focus in a loop."""
        await self.page.locator("body").focus()
        problems, seen = [], []
        for _ in range(MAX_TABS):
            await self.page.keyboard.press("Tab")
            focused = await self.page.evaluate(FOCUSED)
            if focused is None or (seen and focused["element"] == seen[0]):
                return problems
            seen.append(focused["element"])
            if not focused["ringed"]:
                problems.append(f"no focus ring: {focused['element']}")
            if not focused["shown"]:
                problems.append(f"focused off screen: {focused['element']}")
        raise AssertionError(f"{self.page.url}: still tabbing after {MAX_TABS} stops: {seen[-5:]}")

    async def screenshot(self, name: str) -> list[Path]:
        """Full-page PNGs at phone and desktop widths, under test-output/screenshots/."""
        SCREENSHOT_DIRECTORY.mkdir(parents=True, exist_ok=True)
        original = self.page.viewport_size
        taken = []
        for label, size in VIEWPORTS.items():
            await self.page.set_viewport_size(size)
            path = SCREENSHOT_DIRECTORY / f"{name}-{label}.png"
            await self.page.screenshot(path=str(path), full_page=True)
            print(f"screenshot: {path}")
            taken.append(path)
        await self.page.set_viewport_size(original)
        SCREENSHOTS.update(taken)
        return taken

    def audit(self) -> None:
        unchecked = [url for url in self.loaded if url not in self.checked]
        assert unchecked == [], f"pages loaded without the accessibility check: {unchecked}"
        assert self.errors == [], f"the browser logged errors: {self.errors}"

    # Steps the flows share ------------------------------------------------------------

    async def sign_in(self, username: str, password: str) -> None:
        await self.open("/login")
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.submit(self.page.get_by_role("button", name="Sign in"))
        assert await self.page.get_by_text(f"Signed in as {username}").is_visible()
