"""The accessibility check must catch what it is there for, or every flow passing it means
nothing."""

from typing import Any

import pytest

from tests.browser.served import BROWSER_LOOP
from tests.browser.tabs import ACCESSIBILITY, Tab

pytestmark = BROWSER_LOOP

GOOD = """<!doctype html><html lang="en"><title>Fine</title><body>
<header><nav><a href="/">Home</a></nav></header>
<main><h1>One heading</h1><form>
  <label for="a">A</label><input id="a" name="a" aria-describedby="a-hint"><p id="a-hint">Hint</p>
  <label>B <select name="b"><option>x</option></select></label>
  <textarea name="c" aria-label="C"></textarea>
  <span id="d-label">D</span><input name="d" aria-labelledby="d-label">
  <input type="hidden" name="csrf_token"><input type="submit" value="Send">
</form></main><footer>f</footer></body></html>"""

BAD = """<!doctype html><html><title> </title><body>
<main><h1>One</h1><h1>Two</h1>
  <label for="x"></label><input id="x" name="empty_label">
  <input name="bare"><select name="bare_select"></select><textarea name="bare_text"></textarea>
  <input name="hinted" aria-label="H" aria-describedby="nowhere">
  <p id="x">same id</p><img src="/p.png">
</main></body></html>"""


async def test_a_well_made_page_passes_and_a_careless_one_shows_each_fault(browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.set_content(GOOD)
        good = await page.evaluate(ACCESSIBILITY)
        await page.set_content(BAD)
        bad = await page.evaluate(ACCESSIBILITY)
    finally:
        await context.close()

    assert good == []
    assert bad[:-1] == [
        "unlabelled input name=empty_label",
        "unlabelled input name=bare",
        "unlabelled select name=bare_select",
        "unlabelled textarea name=bare_text",
        "aria-describedby of hinted names a missing id",
        "2 h1 elements, not 1",
        "no header landmark",
        "no nav landmark",
        "no footer landmark",
        "repeated ids (labels may point elsewhere): x",
        "no lang on <html>",
        "empty <title>",
    ]
    assert bad[-1].startswith("no alt: ") and bad[-1].endswith("/p.png")


async def test_the_keyboard_walk_finds_stops_without_a_focus_ring_or_off_screen(
    browser: Any,
) -> None:
    context = await browser.new_context()
    try:
        tab = Tab(await context.new_page())
        await tab.page.set_content("""<style>
          a:focus, input:focus { outline: 2px solid blue; } .bare:focus { outline: none; }
          .away { position: absolute; left: -100vw; } </style>
          <a href="#one">one</a> <input name="ringed"> <button class="bare">bare</button>
          <a class="away" href="#gone">gone</a> <input type="date" name="when">""")
        problems = await tab.keyboard_walk()
    finally:
        await context.close()

    # the date field's calendar button is the browser's own: not reported
    assert problems == ["no focus ring: button bare", "focused off screen: a gone"]


async def test_axe_core_fails_a_page_with_a_serious_violation(browser: Any) -> None:
    context = await browser.new_context()
    try:
        tab = Tab(await context.new_page())
        await tab.page.set_content(GOOD)
        await tab.check()  # passes ours and axe-core's
        await tab.page.set_content(GOOD.replace("</form>", "<button></button></form>"))
        with pytest.raises(AssertionError) as failed:
            await tab.check()
    finally:
        await context.close()

    assert "axe-core" in str(failed.value) and "button-name" in str(failed.value)
