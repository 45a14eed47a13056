"""What every chapter's first cell does once the package is there: ``device, budget = start(REPOSITORY)``.

It picks the device (the first GPU, else the CPU) and the training budget
(``$SE_TUTORIAL_BUDGET``, else ``brief`` on every device: a chapter must run
in minutes in Colab, on a free GPU or CPU runtime; ``full`` is asked for by
name), applies the book's figure style, and prints both, so every page states
what its outputs were computed with.
"""

from __future__ import annotations

import os

import torch

from ..training import Budget, default_device, resolve_budget
from .repository import raw_url
from .style import book_style


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
