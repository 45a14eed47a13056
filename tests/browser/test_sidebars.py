"""The sidebar toggles do what they show: the primary one (the book's contents, left) and
the secondary one (this page's contents, right), on a phone and on a laptop.

"Open" is judged as a reader sees it: the panel's navigation is visible, has a
size, lies inside the window, and a tap on its first link reaches that link (no
backdrop or other layer covers it). "Closed": hidden, or wholly off screen.

What each width does, by the theme's design (sphinx-book-theme 1.2 with
pydata-sphinx-theme 0.16):
* 390 px: both panels start closed; a toggle opens its panel as a drawer over
  the page; a tap beside the drawer, or Escape, closes it again.
* 1024 px: the book's contents show; the page's contents are behind their toggle.
* 1280 px: both panels show; the primary toggle folds the book's contents away
  and brings them back; the secondary toggle is not shown, its panel always is.
"""

import pytest
from book_site import DESKTOP, PHONE

PAGE = "notebooks/01_equations"  # a chapter: it has both panels
TABLET = 1024
PRIMARY = {"toggle": "button.primary-toggle", "nav": "nav.bd-docs-nav"}
SECONDARY = {"toggle": "button.secondary-toggle", "nav": "nav.page-toc"}

PANEL_STATE = """nav => {
  const r = nav.getBoundingClientRect();
  const visible = nav.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  const onScreen = r.width > 0 && r.height > 0 && r.left >= -1 && r.right <= innerWidth + 1
                   && r.top < innerHeight && r.bottom > 0;
  const offScreen = r.right <= 0 || r.left >= innerWidth || r.bottom <= 0 || r.top >= innerHeight;
  const link = nav.querySelector('a');
  let reachable = false;
  if (link) {
    const l = link.getBoundingClientRect();
    const hit = document.elementFromPoint(l.left + Math.min(l.width / 2, 20), l.top + l.height / 2);
    reachable = !!hit && (hit === link || link.contains(hit));
  }
  return {visible, onScreen, offScreen, reachable,
          box: [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)]};
}"""


def panel(page, which):
    navs = page.locator(which["nav"])
    assert navs.count() == 1, f"expected one {which['nav']}, found {navs.count()}"
    return navs.first.evaluate(PANEL_STATE)


def assert_open(page, which, when):
    state = panel(page, which)
    assert state["visible"] and state["onScreen"] and state["reachable"], (
        f"{which['nav']} should be open {when}: {state} (box = left, top, width, height)"
    )


def assert_closed(page, which, when):
    state = panel(page, which)
    assert not state["visible"] or state["offScreen"], f"{which['nav']} should be closed {when}: {state}"


def visible_toggle(page, which):
    """The one toggle a reader can see and click (themes may hide extra copies)."""
    toggles = page.locator(which["toggle"])
    shown = [toggles.nth(i) for i in range(toggles.count()) if toggles.nth(i).is_visible()]
    assert len(shown) == 1, f"expected one visible {which['toggle']}, found {len(shown)} of {toggles.count()}"
    return shown[0]


def settle(page):
    page.wait_for_timeout(400)  # the drawers slide in over 0.3 s


@pytest.mark.parametrize(
    ("which", "width"),
    [(PRIMARY, PHONE), (SECONDARY, PHONE), (SECONDARY, TABLET)],
    ids=["primary-390px", "secondary-390px", "secondary-1024px"],
)
def test_a_toggle_opens_its_drawer_and_a_tap_beside_it_or_escape_closes_it(fresh_page, which, width):
    page = fresh_page(PAGE, width).page
    assert_closed(page, which, f"at first, at {width} px")

    visible_toggle(page, which).click()
    settle(page)
    assert_open(page, which, f"after a click on its toggle at {width} px")

    # Tap beside the drawer: primary opens on the left, secondary on the right.
    page.mouse.click(width - 5 if which is PRIMARY else 5, 400)
    settle(page)
    assert_closed(page, which, f"after a tap beside it at {width} px")

    visible_toggle(page, which).click()
    settle(page)
    assert_open(page, which, f"after a second click on its toggle at {width} px")
    page.keyboard.press("Escape")
    settle(page)
    assert_closed(page, which, f"after Escape at {width} px")


def test_on_a_laptop_the_primary_toggle_folds_the_contents_away_and_back(fresh_page):
    loaded = fresh_page(PAGE, DESKTOP)
    page = loaded.page
    assert_open(page, PRIMARY, f"at first, at {DESKTOP} px")

    visible_toggle(page, PRIMARY).click()
    settle(page)
    assert_closed(page, PRIMARY, f"after a click on its toggle at {DESKTOP} px")
    assert page.locator("dialog[open]").count() == 0, (
        "the toggle opened a dialog instead of folding the sidebar"
    )

    visible_toggle(page, PRIMARY).click()
    settle(page)
    assert_open(page, PRIMARY, f"after a second click on its toggle at {DESKTOP} px")
    assert loaded.errors == [], loaded.errors


def test_on_a_laptop_the_page_contents_always_show_and_need_no_toggle(book_page):
    page = book_page(PAGE, DESKTOP).page
    assert_open(page, SECONDARY, f"at {DESKTOP} px")
    assert all(not toggle.is_visible() for toggle in page.locator(SECONDARY["toggle"]).all())
