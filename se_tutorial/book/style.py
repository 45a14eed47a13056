"""The book's figure style: every figure legible at the width the page shows it.

The rendered book's text column is about 690 px wide and notebooks draw PNGs
at 100 dpi, so a figure up to 6.9 inches wide is shown at its natural size.
:func:`book_style` sets that width and font sizes of at least
:data:`MIN_FONT_PT` points (12.5 px at 100 dpi), the smallest text a reader
should have to read on a laptop.
"""

from __future__ import annotations

import matplotlib as mpl

#: The smallest font size, in points, that the book's figures use.
MIN_FONT_PT = 9
#: Width in inches of a figure that fills the text column at 100 dpi.
COLUMN_WIDTH_IN = 6.8

BOOK_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (COLUMN_WIDTH_IN, 3.4),
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every figure drawn after this call."""
    mpl.rcParams.update(BOOK_STYLE)
