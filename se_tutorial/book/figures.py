"""The figures of chapters 4 and 5: a chapter cell draws one with a single call.

Every figure is one column, :data:`~.style.COLUMN_WIDTH_IN` wide, with panels
stacked rather than side by side, so its text stays legible on a phone (see
:mod:`.style`). Each function draws on a new figure and returns it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..studies.contrasts import estimate
from ..studies.excitations import BlockExcitations
from ..training.history import History
from .chapter import COLUMN_WIDTH_IN


def short_names(classes: Sequence[str]) -> list[str]:
    """Class names short enough for a tick label: ``"T-shirt/top"`` becomes ``"T-shirt"``."""
    return [name.split("/")[0] for name in classes]


def image_grid(
    images: torch.Tensor, titles: Sequence[str], columns: int, title: str | None = None, **imshow
) -> Figure:
    """Grey images ``(N, 1, H, W)`` in a grid of ``columns``, each with its title above it."""
    rows = -(-len(images) // columns)
    height = rows * COLUMN_WIDTH_IN / columns * (1.3 if any("\n" in t for t in titles) else 1.15)
    fig, axes = plt.subplots(rows, columns, figsize=(COLUMN_WIDTH_IN, height), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, text in zip(axes.flat, images.cpu(), titles, strict=False):
        ax.imshow(image[0].numpy(), cmap="gray", **imshow)
        ax.set_title(text)
    if title:
        fig.suptitle(title)
    return fig


def sample_batch(
    images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], count: int = 16
) -> Figure:
    """The first ``count`` images of a batch ``(N, 1, H, W)`` as the network sees them, named by class."""
    names = short_names(classes)
    return image_grid(images[:count], [names[int(k)] for k in labels[:count]], columns=4)


def learning_curves(histories: Mapping[str, History]) -> Figure:
    """Loss (top) and accuracy (bottom) per epoch of several runs, ``{name: history}``, one colour each."""
    fig, axes = plt.subplots(2, 1, figsize=(COLUMN_WIDTH_IN, 6.0), sharex=True)
    handles = []
    for (name, history), color in zip(histories.items(), plt.cm.tab10.colors, strict=False):
        history.plot(axes, label=name, color=color, legend=False)
        handles.append(Line2D([], [], color=color, label=name))
    # One legend entry per model (colour) and per kind of line (style), not one per line.
    styles = {"--": "train (smoothed labels)", "-": "test"}
    handles += [Line2D([], [], color="grey", linestyle=style, label=text) for style, text in styles.items()]
    floor = [line for line in axes[0].get_lines() if line.get_linestyle() == ":"]
    handles += [Line2D([], [], color="grey", linestyle=":", label=floor[0].get_label())] if floor else []
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


def confusion(counts: torch.Tensor, classes: Sequence[str], title: str) -> Figure:
    """A confusion matrix ``(K, K)``: true class by row, predicted by column, each count written in its cell."""
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, COLUMN_WIDTH_IN))
    counts = torch.as_tensor(counts).cpu()
    ax.imshow(counts.numpy(), cmap="Blues")
    for true in range(len(classes)):
        for predicted in range(len(classes)):
            value = int(counts[true, predicted])
            dark = value > counts.max() / 2  # white text on the dark cells
            ax.text(predicted, true, value, ha="center", va="center", color="white" if dark else "black")
    names = short_names(classes)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    ax.grid(False)
    return fig


def misclassified(
    images: torch.Tensor, truth: torch.Tensor, predicted: torch.Tensor, classes: Sequence[str]
) -> Figure:
    """Images ``(N, 1, H, W)`` in [0, 1] that a model got wrong, titled with their true and predicted class."""
    names = short_names(classes)
    titles = [f"{names[int(t)]}\nas {names[int(p)]}" for t, p in zip(truth, predicted, strict=True)]
    return image_grid(images, titles, columns=4, vmin=0, vmax=1)


def paired_lines(accuracy: Mapping[str, Mapping[int, float]]) -> Figure:
    """Two models' test accuracy, ``{model: {seed: accuracy}}``, one line per seed joining the two."""
    (first, a), (second, b) = accuracy.items()
    seeds = sorted(set(a) & set(b))
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.4))
    for seed in seeds:
        ax.plot([0, 1], [a[seed] * 100, b[seed] * 100], "o-", color="grey", alpha=0.7)
        ax.annotate(
            f"seed {seed}", (1, b[seed] * 100), xytext=(6, 0), textcoords="offset points", va="center"
        )
    ax.set_xticks([0, 1], [first, second])
    ax.set_xlim(-0.3, 1.5)
    ax.set_ylabel("test accuracy (%)")
    return fig


def excitations_by_class(stats: Mapping[str, BlockExcitations], classes: Sequence[str]) -> Figure:
    """Each SE block's mean weight per channel and class (the paper's Fig. 6): one panel per block."""
    fig, axes = plt.subplots(len(stats), 1, figsize=(COLUMN_WIDTH_IN, 2.0 * len(stats) + 1.2), squeeze=False)
    for ax, (name, block) in zip(axes[:, 0], stats.items(), strict=True):
        for k, label in enumerate(short_names(classes)):
            ax.plot(block.class_means[k].numpy(), color=plt.cm.tab10.colors[k % 10], linewidth=1, label=label)
        ax.set(title=name, ylabel="mean s", ylim=(0, 1), xlim=(0, block.class_means.shape[1] - 1))
    axes[-1, 0].set_xlabel("channel")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    return fig


def by_block(values: Mapping[str, float], ylabel: str) -> Figure:
    """One number per SE block, ``{block name: value}``, in network order, labelled by stage."""
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.0))
    positions = range(1, len(values) + 1)
    ax.plot(positions, list(values.values()), "o-")
    ax.set_xticks(list(positions), [name.split(".")[0] for name in values])
    ax.set(xlabel="SE block (stage)", ylabel=ylabel)
    ax.set_ylim(0, 1.15 * max(values.values()))
    return fig


def contrast_dots(values: Mapping[str, Mapping[int, float]]) -> Figure:
    """Each contrast's value per seed (dots) and its mean with a 95% interval (bar), in points; one row each.

    ``values`` maps a contrast's name to ``{seed: value}`` (fractions of
    accuracy, as :func:`~se_tutorial.studies.contrasts.per_seed` gives them);
    contrasts with fewer than two seeds are left out.
    """
    shown = {name: by_seed for name, by_seed in values.items() if len(by_seed) >= 2}
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 0.55 * len(shown) + 1.4))
    for y, by_seed in enumerate(shown.values()):
        points = [v * 100 for v in by_seed.values()]
        ax.plot(points, [y + 0.18] * len(points), "o", color="grey", alpha=0.6, markersize=4)
        d = estimate(by_seed)
        ax.plot([d.low * 100, d.high * 100], [y - 0.12] * 2, color="black")
        ax.plot(d.mean * 100, y - 0.12, "s", color="black", markersize=5)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(shown)), [wrap_label(name) for name in shown])
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlabel("difference in test accuracy (points)")
    handles = [
        Line2D([], [], marker="o", color="grey", linestyle="", label="one seed"),
        Line2D([], [], marker="s", color="black", label="mean, 95% interval"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


def wrap_label(text: str, width: int = 24) -> str:
    """``text`` broken into lines of at most about ``width`` characters, at spaces (for axis labels)."""
    return "\n".join(textwrap.wrap(text, width)) or text
