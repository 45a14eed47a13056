"""What a reader sees on a laptop (1280 px), on every page in _toc.yml: code and
output boxes that never scroll sideways, and figures whose text stays legible at
the width they are shown, there and on a phone (390 px).
"""

import math
import struct
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import pytest
from book_site import DESKTOP, HTML, PAGES, PHONE

#: How many monospace characters a code or output box holds at 1280 px (measured
#: with the theme's 14 px code font; DejaVu Sans Mono, as on Debian): the notebooks'
#: line budget. Checked below, so a theme or font change that narrows it fails here.
CODE_BOX_CHARS = 77


@dataclass(frozen=True)
class FigureText:
    """The figures' smallest text, as the notebooks' matplotlib style promises it, and the
    smallest text a reader can read on screen. A figure saved at ``dpi`` and shown at
    ``scale`` of its own width prints that text at ``smallest_pt * dpi / 72 * scale`` CSS px."""

    smallest_pt: float  # no font in a figure is smaller (the notebooks' matplotlib style)
    legible_px: float  # the smallest text size, in CSS px, that a reader can read
    dpis: tuple[float, ...]  # the resolutions figures are saved at (read from each PNG's pHYs)

    def natural_px(self, dpi: float) -> float:
        """The smallest text's height in the image's own pixels."""
        return self.smallest_pt * dpi / 72

    def min_scale(self, dpi: float) -> float:
        """Shown below this fraction of its own width, a figure's smallest text is illegible."""
        return self.legible_px / self.natural_px(dpi)


#: 9 pt at 100 dpi is 12.5 px in the PNG, at 200 dpi (the notebooks' "retina" PNGs, shown at
#: half their pixel width) 25 px; shown below 0.72 of its CSS width it drops under 9 px.
FIGURE_TEXT = FigureText(smallest_pt=9, legible_px=9, dpis=(100, 200))

CODE_BOXES = """() => {
  const charWidth = pre => {  // the advance of one character in this box's font
    const probe = document.createElement('span');
    probe.textContent = '0'.repeat(100);
    probe.style.cssText = 'position:absolute; visibility:hidden; white-space:pre';
    probe.style.font = getComputedStyle(pre).font;
    pre.appendChild(probe);
    const width = probe.getBoundingClientRect().width / 100;
    probe.remove();
    return width;
  };
  // a cell's first line, past blank lines and nbval markers ("# NBVAL_CHECK_OUTPUT"), which many cells share
  const firstLine = element => (element ? element.textContent.split('\\n')
    .find(l => l.trim() && !/^#\\s*NBVAL_/.test(l.trim())) || '' : '').trim();
  const cells = Array.from(document.querySelectorAll('div.cell'));
  return Array.from(document.querySelectorAll('div.cell pre')).map(pre => {
    const cell = pre.closest('div.cell');
    const style = getComputedStyle(pre);
    const lines = pre.textContent.split('\\n');
    const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
    return {
      cell: cells.indexOf(cell) + 1,
      part: pre.closest('.cell_output') ? 'output' : 'input',
      cellFirstLine: firstLine(cell.querySelector('.cell_input pre')) || firstLine(pre),
      longest,
      scrollWidth: pre.scrollWidth,
      clientWidth: pre.clientWidth,
      textWidth: pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
      charWidth: charWidth(pre),
      shown: pre.checkVisibility(),
    };
  });
}"""

FIGURES = """() => {
  const cells = Array.from(document.querySelectorAll('div.cell'));
  return Array.from(document.querySelectorAll('article.bd-article img')).map((img, index) => {
    const cell = img.closest('div.cell');
    const input = cell && cell.querySelector('.cell_input pre');
    const lines = input ? input.textContent.split('\\n') : [];
    return {
      index: index + 1,
      src: img.currentSrc || img.src,
      cell: cell ? cells.indexOf(cell) + 1 : null,
      cellFirstLine: (lines.find(l => l.trim() && !/^#\\s*NBVAL_/.test(l.trim())) || '').trim() || null,
      naturalWidth: img.naturalWidth,
      shownWidth: img.getBoundingClientRect().width,
      shown: img.checkVisibility(),
    };
  });
}"""


def clip(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def png_dpi(path) -> float | None:
    """The resolution a PNG records in its pHYs chunk (matplotlib writes its savefig dpi there)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"pHYs":
            x, _, unit = struct.unpack(">IIB", data[offset + 8 : offset + 17])
            return x * 0.0254 if unit == 1 else None  # unit 1: pixels per metre
        if kind == b"IDAT":
            return None  # pHYs comes before the image data
        offset += 12 + length
    return None


def test_a_code_box_holds_the_line_budget(book_page):
    """CODE_BOX_CHARS characters fit in a code box at 1280 px (the notebooks' line budget)."""
    boxes = [box for box in book_page("notebooks/01_equations").page.evaluate(CODE_BOXES) if box["shown"]]
    assert boxes, "chapter 1 shows no code"
    fits = min(math.floor(box["textWidth"] / box["charWidth"] + 0.01) for box in boxes)
    assert fits >= CODE_BOX_CHARS, f"a code box at {DESKTOP} px holds {fits} characters, not {CODE_BOX_CHARS}"


@pytest.mark.parametrize("name", PAGES)
def test_no_code_or_output_box_scrolls_sideways(book_page, name):
    too_wide = []
    for box in book_page(name).page.evaluate(CODE_BOXES):
        overflow = box["scrollWidth"] - box["clientWidth"]
        if box["shown"] and overflow > 1:  # 1 px: rounding
            chars = math.ceil(overflow / box["charWidth"] - 0.01)
            too_wide.append(
                f"  code cell {box['cell']} ({clip(box['cellFirstLine'])!r}), {box['part']}: {chars} characters too wide; "
                f"longest line ({len(box['longest'])} characters): {clip(box['longest'].strip(), 50)!r}"
            )
    fail_if_any(
        too_wide,
        f"{name}: code or output boxes scroll sideways at {DESKTOP} px, where a box holds "
        f"{CODE_BOX_CHARS} characters",
    )


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("name", PAGES)
def test_every_figure_is_legible_at_its_shown_width(book_page, name, width):
    text = FIGURE_TEXT
    problems = []
    for figure in book_page(name, width).page.evaluate(FIGURES):
        if not figure["shown"] or not figure["naturalWidth"]:
            continue  # hidden (e.g. in a folded cell) or broken: test_rendered_book reports broken images
        path = HTML / unquote(urlparse(figure["src"]).path).lstrip("/")
        where = f"  image {figure['index']} ({path.name[:16]}…"
        where += (
            f", code cell {figure['cell']}: {clip(figure['cellFirstLine'] or '')!r})"
            if figure["cell"]
            else ")"
        )
        if path.suffix != ".png":
            continue  # drawings (the Colab badge) scale without blurring
        dpi = png_dpi(path) if path.is_file() else None
        if dpi is None or min(abs(dpi - known) for known in text.dpis) > 1:
            problems.append(f"{where} records {dpi} dpi; the book saves figures at {text.dpis} dpi")
            continue
        scale = figure["shownWidth"] / figure["naturalWidth"]
        if scale < text.min_scale(dpi):
            widest = math.floor(figure["shownWidth"] / text.min_scale(dpi))
            problems.append(
                f"{where} is {figure['naturalWidth']} px at {dpi:.0f} dpi ({figure['naturalWidth'] / dpi:.2f} in) "
                f"wide, shown at {figure['shownWidth']:.0f} px (scale {scale:.2f} < {text.min_scale(dpi):.2f}): "
                f"its {text.smallest_pt:g} pt text is {text.natural_px(dpi) * scale:.1f} px on screen, under "
                f"{text.legible_px:g} px. Make it at most {widest / dpi:.2f} in wide, "
                f"{figure['naturalWidth'] / widest:.2f}× narrower"
            )
    fail_if_any(
        problems,
        f"{name}: figures whose text is too small at {width} px ({text.smallest_pt:g} pt "
        f"must be at least {text.legible_px:g} px on screen)",
    )


def fail_if_any(problems: list[str], summary: str) -> None:
    """Fail with ``summary`` and one line per problem, if there are any."""
    if problems:
        pytest.fail(f"{summary}:\n" + "\n".join(problems), pytrace=False)
