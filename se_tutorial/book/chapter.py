"""How every chapter starts and how its figures look.

* :func:`start` - what every chapter's first cell does once the package is
  there: ``device, budget = start(REPOSITORY)``. It picks the device (the first
  GPU, else the CPU) and the training budget (``$SE_TUTORIAL_BUDGET``, else
  ``brief`` on every device: a chapter must run in minutes in Colab, on a free
  GPU or CPU runtime; ``full`` is asked for by name), applies the book's figure
  style, and prints both, so every page states what its outputs were computed with.
* :func:`book_style` - every figure legible at the width the page shows it,
  phones included.

Notebooks draw PNGs at 100 dpi. On a laptop the text column is about 690 px
wide, so any figure up to 6.9 in is shown at its natural size. On a phone
held upright (390 px) a figure in a cell's output gets 342 px, and a wider
one is shrunk to fit: its text shrinks with it. :data:`COLUMN_WIDTH_IN` is
the widest figure whose :data:`MIN_FONT_PT` point text (12.5 px at 100 dpi)
still reads at 9 px or more there: 342 / 0.72 = 475 px, 4.75 in. The book
draws one-column figures 4.6 in wide (room for the margin of the inline
backend's tight bounding box), stacked rather than side by side, with fonts
of at least 9 points.
"""

from __future__ import annotations

import os
import textwrap

import matplotlib as mpl
import torch

from ..training import Budget, default_device, resolve_budget
from .repository import raw_url

#: The smallest font size, in points, that the book's figures use.
MIN_FONT_PT = 9
#: Width in inches of the book's figures: legible in a phone's 342 px figure column (see above).
COLUMN_WIDTH_IN = 4.6
#: Characters a code or output box shows at 1280 px without scrolling sideways.
PAGE_WIDTH = 76

BOOK_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.pad_inches": 0.05,
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


def fit_to_page(text: str, width: int = PAGE_WIDTH) -> str:
    """``text`` with every line longer than ``width`` broken at spaces, so that an output box needs no scrolling.

    >>> print(fit_to_page("Intel(R) Xeon(R) Processor (family 6 model 167, x86_64, 2 threads, AVX2)", 40))
    Intel(R) Xeon(R) Processor (family 6
    model 167, x86_64, 2 threads, AVX2)
    """
    return "\n".join(
        piece
        for line in text.splitlines()
        for piece in (textwrap.wrap(line, width) if len(line) > width else [line])
    )


def book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every figure drawn after this call.

    In a notebook, figures are also stored as "retina" PNGs: drawn at twice
    the resolution (200 dpi) and shown at the same size, so that they stay
    sharp when a reader zooms in.
    """
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not in IPython: nothing to configure
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def start(repository: str) -> tuple[torch.device, Budget]:
    """The chapter's device and budget, the figure style applied; ``repository`` is the book's address.

    The address is checked here, where a typo is cheap, since chapters fetch
    their stored results from it when they run outside a clone (in Colab).
    """
    raw_url(repository, "README.md")  # a clear error now for an address files cannot come from
    device = default_device()
    budget = resolve_budget(os.environ.get("SE_TUTORIAL_BUDGET") or "brief")
    book_style()
    print(f"device: {device.type}, budget: {budget.name}")
    return device, budget
