"""Data-flow diagrams of residual blocks and SE blocks: boxes and arrows from :func:`.dataflow.block_dataflow`.

The drawings are sized for the book: 9 pt text or larger, and at most
:data:`~.style.COLUMN_WIDTH_IN` wide, so that their text stays legible on a
phone (see :mod:`.style`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..nn.se_block import SEBlock
from .chapter import COLUMN_WIDTH_IN
from .dataflow import Step, block_dataflow, format_shape

# All lengths are in points (1/72 in), and a drawing is shown at one point per point.

FONT_SIZE = 9  #: the smallest text in a figure, in points
TITLE_SIZE = 10
BOX_HEIGHT = 18  # one line of 9 pt text and its padding
BOX_PADDING = 4  # left and right of the text
ROW_GAP = 12  # room for an arrow between two rows of boxes ...
ROW_GAP_WITH_SHAPES = 20  # ... or for an arrow and a line of 9 pt text
SIDE_GAP = 10  # between a box and the side column of the shortcut
TITLE_ROOM = 22  # above each axes, for its title
COLORS = {"attention": "#f6c667", "+": "#cfe8cf", "shortcut": "#cfd8f0", "scale": "#cfe8cf"}


def _text_width(text: str) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    return text_to_path.get_text_width_height_descent(text, FontProperties(size=FONT_SIZE), ismath=False)[0]


def _ancestors(steps: list[Step], index: int) -> set[int]:
    found: set[int] = set()
    stack = list(steps[index].inputs)
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(steps[current].inputs)
    return found


def _shortcut_steps(steps: list[Step]) -> set[int]:
    """Steps that only the shortcut of a ``"+"`` runs (the input of the addition not fed by ``conv1``)."""
    shortcut: set[int] = set()
    for step in steps:
        if step.name != "+":
            continue
        for source in step.inputs:
            ancestors = _ancestors(steps, source) | {source}
            if not any(steps[a].name == "conv1" for a in ancestors):
                branch = set().union(*(_ancestors(steps, s) | {s} for s in step.inputs if s != source))
                shortcut |= ancestors - branch
    return shortcut


@dataclass
class _Layout:
    """What to draw where, in points: boxes with their texts, arrows, and the arrows' shape labels."""

    boxes: list[tuple[float, float, float, str, str]]  # (x, y, width, text, fill colour), x and y the centre
    arrows: list[list[tuple[float, float]]]  # polylines, the arrowhead at the last point
    notes: list[tuple[float, float, str, str]]  # (x, y, text, horizontal alignment)
    extent: tuple[float, float, float, float]  # left, right, bottom, top

    @property
    def size(self) -> tuple[float, float]:
        left, right, bottom, top = self.extent
        return right - left, top - bottom


def _layout(steps: list[Step], texts: list[str], shapes: bool) -> _Layout:
    """Main path in a column at x = 0, top to bottom; the shortcut (and any skip) in a side column.

    Shortcut boxes sit as low as they can, just above the step they feed, so
    that they stand beside narrow boxes. Arrows into or out of the side column
    run horizontally along a box's own row, so they never cross another box.
    With ``shapes``, each arrow is labelled with the shape of the tensor it carries.
    """
    side = _shortcut_steps(steps)
    row: dict[int, int] = {}
    for index in range(len(steps)):
        if index not in side:
            row[index] = len(row)
    for index in sorted(side, reverse=True):  # as low as possible: just above its first consumer
        consumers = [i for i, s in enumerate(steps) if index in s.inputs]
        row[index] = min(row[c] for c in consumers) - 1
    pitch = BOX_HEIGHT + (ROW_GAP_WITH_SHAPES if shapes else ROW_GAP)
    width = [_text_width(t) + 2 * BOX_PADDING for t in texts]
    main_width = {row[i]: width[i] for i in row if i not in side}
    side_x = max(  # clear of every main box, and of the main box beside each side box
        [w / 2 + SIDE_GAP for w in main_width.values()]
        + [main_width[row[i]] / 2 + SIDE_GAP + width[i] / 2 for i in side]
    )
    x = [side_x if i in side else 0.0 for i in range(len(steps))]
    y = [-row[i] * pitch for i in range(len(steps))]

    arrows, notes = [], []
    for target, step in enumerate(steps):
        for source in step.inputs:
            shape = format_shape(steps[source].shape)
            leave = (x[source], y[source] - BOX_HEIGHT / 2)  # bottom centre
            if x[source] == x[target] and row[target] == row[source] + 1:  # straight down
                arrive = (x[target], y[target] + BOX_HEIGHT / 2)
                arrows.append([leave, arrive])
                notes.append((x[source] - 4, (leave[1] + arrive[1]) / 2, shape, "right"))
                continue
            # Around the side: a main box is left and entered on its right, along its own row.
            path = [leave] if source in side else [(width[source] / 2, y[source]), (side_x, y[source])]
            if target in side:
                path.append((side_x, y[target] + BOX_HEIGHT / 2))
            else:
                path += [(side_x, y[target]), (width[target] / 2, y[target])]
            arrows.append(path)
            notes.append((side_x + 4, (y[source] + y[target]) / 2, shape, "left"))
    notes = notes if shapes else []

    boxes = [
        (x[i], y[i], width[i], texts[i], COLORS.get(steps[i].name, "#eeeeee")) for i in range(len(steps))
    ]
    left = min(
        [x - w / 2 for x, _, w, *_ in boxes] + [x - _text_width(t) for x, _, t, h in notes if h == "right"]
    )
    right = max(
        [x + w / 2 for x, _, w, *_ in boxes]
        + [x for points in arrows for x, _ in points]
        + [x + _text_width(t) for x, _, t, h in notes if h == "left"]
    )
    margin = 3
    top, bottom = BOX_HEIGHT / 2 + margin, min(y) - BOX_HEIGHT / 2 - margin
    return _Layout(boxes, arrows, notes, (left - margin, right + margin, bottom, top))


def _draw(ax, layout: _Layout, title: str | None) -> None:
    """Draw ``layout`` on ``ax`` at one data unit per point, if ``ax`` is large enough."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    for x, y, width, text, fill in layout.boxes:
        corner = (x - width / 2, y - BOX_HEIGHT / 2)
        style = "round,pad=0,rounding_size=4"
        ax.add_patch(FancyBboxPatch(corner, width, BOX_HEIGHT, boxstyle=style, fc=fill, ec="#555555", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=FONT_SIZE)
    for points in layout.arrows:
        ax.add_patch(
            FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=8, color="#444444", lw=0.9)
        )
    for x, y, text, alignment in layout.notes:
        ax.text(x, y, text, ha=alignment, va="center", fontsize=FONT_SIZE, color="#333333")
    # One point per data unit, centred and at the top of the axes. If the axes is too small, or a
    # layout engine resizes it later, the equal aspect scales the drawing evenly.
    left, right, bottom, top = layout.extent
    position = ax.get_position()
    width = max(right - left, position.width * ax.figure.get_figwidth() * 72)
    height = max(top - bottom, position.height * ax.figure.get_figheight() * 72)
    ax.set_xlim((left + right - width) / 2, (left + right + width) / 2)
    ax.set_ylim(top - height, top)
    ax.set_aspect("equal", adjustable="box")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)


def _figure_for(layout: _Layout, title: str | None):
    """Axes in a new figure exactly the size of ``layout`` (or of the title, if wider)."""
    import matplotlib.pyplot as plt

    width, height = layout.size
    width = max(width, 1.1 * _text_width(title or "") * TITLE_SIZE / FONT_SIZE)
    room = TITLE_ROOM if title else 0
    figure = plt.figure(figsize=(width / 72, (height + room) / 72), layout="none")  # axes placed by hand
    return figure.add_axes((0, 0, 1, height / (height + room)))


def draw_block(block: nn.Module, example: torch.Tensor, ax=None, title: str | None = None):
    """Draw :func:`block_dataflow` as boxes and arrows: main path in the middle, shortcut at the side.

    Boxes say what each step does (``"3x3 conv, stride 2"``, ``"SE 64→4→64"``);
    the names are in ``block_dataflow``. A block is about 3.5 in wide, within
    the book's one-column width. Returns the figure.
    """
    steps = block_dataflow(block, example)
    texts = [step.kind for step in steps]
    layout = _layout(steps, texts, shapes=False)
    title = title or f"{type(block).__name__} (placement={getattr(block, 'placement', '?')})"
    ax = ax or _figure_for(layout, title)
    _draw(ax, layout, title)
    return ax.figure


def draw_se_block(block: SEBlock, example: torch.Tensor, ax=None, title: str | None = None):
    """Draw an SE block from its trace: squeeze, fc1, ReLU, fc2, gate, scale, with each tensor's shape.

    ``example`` is an input ``(N, C, H, W)``; the arrows read ``(N, C, H, W)``,
    ``(N, C)``, ``(N, C/r)``, ..., and the input ``x`` runs down the side into
    the scale step, ``x * s``. Returns the figure.
    """
    steps = block_dataflow(block, example)
    texts = [step.label for step in steps]
    layout = _layout(steps, texts, shapes=True)
    c, hidden = block.channels, block.hidden_channels
    title = title or f"SE block, {c}→{hidden}→{c} channels (r={block.reduction_ratio})"
    ax = ax or _figure_for(layout, title)
    _draw(ax, layout, title)
    return ax.figure


def draw_blocks(blocks: Mapping[str, nn.Module], example: torch.Tensor, columns: int = 1):
    """Draw several blocks, ``{title: block}``, in a grid as wide as the book's column.

    With the default one column they are stacked, each at its own legible
    size (two columns suit a wider page than a phone's). Returns the figure.
    """
    import matplotlib.pyplot as plt

    drawn = []
    for title, block in blocks.items():
        steps = block_dataflow(block, example)
        drawn.append((title, _layout(steps, [step.kind for step in steps], shapes=False)))
    rows = [drawn[i : i + columns] for i in range(0, len(drawn), columns)]
    heights = [max(layout.size[1] for _, layout in row) + TITLE_ROOM for row in rows]
    figure = plt.figure(figsize=(COLUMN_WIDTH_IN, sum(heights) / 72), layout="none")  # axes placed by hand
    top = sum(heights)
    for row, height in zip(rows, heights, strict=True):
        top -= height
        for column, (title, layout) in enumerate(row):
            ax = figure.add_axes(
                (column / columns, top / sum(heights), 1 / columns, (height - TITLE_ROOM) / sum(heights))
            )
            _draw(ax, layout, title)
    return figure
