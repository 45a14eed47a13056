"""What a reader sees on a phone held upright (390 px), on every page in _toc.yml.

Nothing runs off the screen: the page never scrolls sideways; printed output
wraps instead of being cut off; displayed equations fit the column, their
numbers beside or under them, not over them; a table too wide for the column
scrolls inside its own box, with shadows at its edges as the cue that there is
more, which its rows do not paint over. (Code boxes keep their lines and scroll: wrapping
would break their indentation.) Figures' text legibility at this width is
checked with the laptop's in test_reading.py.
"""

import pytest
from book_site import PAGES, PHONE
from test_reading import clip, fail_if_any

OVERFLOW = """() => {
  const article = document.querySelector('article.bd-article');
  const wide = el => el.scrollWidth - el.clientWidth > 1;  // 1 px: rounding
  const text = el => el.textContent.trim().replace(/\\s+/g, ' ');
  const scroller = el => {  // the nearest box that scrolls sideways, up to the article
    for (let box = el; box && box !== article; box = box.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) return box;
    }
    return null;
  };
  const cue = box => /gradient/.test(getComputedStyle(box).backgroundImage);
  return {
    page: {scrollWidth: document.documentElement.scrollWidth, width: innerWidth},
    outputs: Array.from(article.querySelectorAll('div.cell_output pre'))
      .filter(pre => pre.checkVisibility() && wide(pre))
      .map(pre => ({text: text(pre), over: pre.scrollWidth - pre.clientWidth})),
    equations: Array.from(article.querySelectorAll('div.math'))
      .filter(div => div.checkVisibility() && (wide(div) || Array.from(div.querySelectorAll('mjx-container')).some(wide)))
      .map(div => ({text: div.id || text(div), over: Math.max(div.scrollWidth - div.clientWidth,
        ...Array.from(div.querySelectorAll('mjx-container')).map(c => c.scrollWidth - c.clientWidth))})),
    tables: Array.from(article.querySelectorAll('table'))
      .filter(table => table.checkVisibility() && table.getBoundingClientRect().right > article.getBoundingClientRect().right + 1
                       || (scroller(table) && wide(scroller(table))))
      .map(table => {
        const box = scroller(table);
        const painted = Array.from(table.querySelectorAll('tr, th, td'))
          .some(cell => getComputedStyle(cell).backgroundColor !== 'rgba(0, 0, 0, 0)');
        return {text: text(table), scrolls: !!box, cue: !!box && cue(box), painted,
                boxRight: box ? box.getBoundingClientRect().right : null};
      }),
    labels: Array.from(article.querySelectorAll('div.math .eqno')).filter(label => {
        const math = label.closest('div.math').querySelector('mjx-container');
        if (!math || !label.checkVisibility()) return false;
        const a = label.getBoundingClientRect(), b = math.getBoundingClientRect();
        return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      }).map(label => label.textContent.trim()),
    articleRight: article.getBoundingClientRect().right,
  };
}"""


@pytest.mark.parametrize("name", PAGES)
def test_nothing_runs_off_a_phone_screen(book_page, name):
    found = book_page(name, PHONE).page.evaluate(OVERFLOW)
    problems = []
    if found["page"]["scrollWidth"] > found["page"]["width"] + 1:
        problems.append(f"  the page scrolls sideways: {found['page']['scrollWidth']} px wide in {PHONE} px")
    problems += [f"  printed output cut off by {o['over']} px: {clip(o['text'])!r}" for o in found["outputs"]]
    problems += [
        f"  equation {clip(e['text'], 40)!r} is {e['over']} px too wide: split it" for e in found["equations"]
    ]
    for table in found["tables"]:
        if not table["scrolls"] or table["boxRight"] > found["articleRight"] + 1:
            problems.append(f"  a table runs off the column: {clip(table['text'])!r}")
        elif not table["cue"]:
            problems.append(f"  a table scrolls without a visible cue: {clip(table['text'])!r}")
        elif table["painted"]:
            problems.append(f"  a scrolling table's rows paint over its scroll cue: {clip(table['text'])!r}")
    problems += [f"  equation number {label} lies over its equation" for label in found["labels"]]
    fail_if_any(problems, f"{name} at {PHONE} px")


@pytest.mark.parametrize("name", PAGES)
def test_every_figure_has_a_caption_and_describing_alt_text(book_page, name):
    images = book_page(name).page.evaluate("""() => Array.from(
      document.querySelectorAll('article.bd-article div.cell_output img')).map(img => ({
        alt: img.getAttribute('alt') || '', src: img.getAttribute('src'),
        caption: img.closest('figure')?.querySelector('figcaption')?.textContent.trim() || ''}))""")
    problems = [
        f"  {image['src'][-24:]}: alt {clip(image['alt'], 40)!r}, caption {clip(image['caption'], 40)!r}"
        for image in images
        if len(image["alt"].split()) < 8 or image["alt"].endswith(".png") or len(image["caption"].split()) < 8
    ]
    fail_if_any(problems, f"{name}: figures need a caption and alt text that describes the figure")
