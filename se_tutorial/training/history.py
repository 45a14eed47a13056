"""A training history: one row per epoch, shown as a table or a plot in one call."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

COLUMNS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds")


@dataclass
class History:
    """Per-epoch metrics of one run: ``history.rows[i]["test_accuracy"]``, ``history.plot()``."""

    rows: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  #: device, dataset, budget, label_smoothing, num_classes

    def append(self, **row: float) -> None:
        self.rows.append(row)

    def column(self, name: str) -> list[float]:
        """One metric across epochs, e.g. ``history.column("test_accuracy")``."""
        if name not in COLUMNS:
            raise KeyError(f"unknown column {name!r}; choose one of {', '.join(COLUMNS)}.")
        return [row[name] for row in self.rows]

    def table(self) -> str:
        """A plain-text table, one line per epoch."""
        header = "".join(f"{name:>15}" for name in COLUMNS)
        lines = [header] + ["".join(_cell(row[name]) for name in COLUMNS) for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:  # Jupyter shows the table, numbers right-aligned with room between
        cell = 'style="text-align: right; padding: 0.1em 0.4em"'
        # Headers wrap at their underscores, so the table fits a narrow page.
        head = "".join(f"<th {cell}>{name.replace('_', ' ')}</th>" for name in COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(f"<td {cell}>{html.escape(_html_cell(n, row[n]))}</td>" for n in COLUMNS)
            + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def plot(self, axes=None, label: str | None = None, color: str | None = None, legend: bool = True):
        """Loss and accuracy curves on two axes, stacked (created if not given); returns the figure.

        The two losses are different quantities: the training loss is the
        label-smoothed cross-entropy the optimizer minimised (averaged over the
        epoch while the weights changed), the test loss plain cross-entropy at
        the end of the epoch. With label smoothing the training loss cannot
        fall below :func:`smoothed_loss_floor`, drawn as a dotted line.
        ``legend=False`` leaves the legends to the caller (e.g. one for a whole figure).
        """
        import matplotlib.pyplot as plt

        if axes is None:
            # one column, 4.6 in wide: the width se_tutorial.book.chapter keeps legible on a phone
            _, axes = plt.subplots(2, 1, figsize=(4.6, 5.6), sharex=True, constrained_layout=True)
        prefix = f"{label} " if label else ""
        epochs = self.column("epoch")
        smoothing = self.meta.get("label_smoothing", 0.0)
        train_name = "train (smoothed labels)" if smoothing else "train"
        for split, style, name in (("train", "--", train_name), ("test", "-", "test")):
            axes[0].plot(epochs, self.column(f"{split}_loss"), style, color=color, label=f"{prefix}{name}")
            axes[1].plot(
                epochs, self.column(f"{split}_accuracy"), style, color=color, label=f"{prefix}{split}"
            )
        if smoothing and "num_classes" in self.meta:
            floor = smoothed_loss_floor(smoothing, self.meta["num_classes"])
            name = f"smoothed-loss floor {floor:.2f}"
            if name not in axes[0].get_legend_handles_labels()[1]:  # once per axes
                axes[0].axhline(floor, color="grey", linestyle=":", linewidth=1, label=name)
        axes[0].set(ylabel="cross-entropy", title="Loss")
        if not axes[0].get_shared_x_axes().joined(axes[0], axes[1]):  # stacked axes share one label
            axes[0].set_xlabel("epoch")
        axes[1].set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
        for ax in axes:
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # epochs are whole numbers
            if legend:
                ax.legend()
            ax.grid(alpha=0.3)
        return axes[0].figure


def smoothed_loss_floor(label_smoothing: float, num_classes: int) -> float:
    """The smallest label-smoothed cross-entropy any prediction can reach.

    Smoothing by ``eps`` trains towards the target ``1 - eps + eps/K`` for the
    true class and ``eps/K`` for each other class; cross-entropy against a
    target is smallest when the prediction equals it, and then equals the
    target's entropy. For ``eps = 0.1`` and ``K = 10`` that is about 0.50.

    >>> round(smoothed_loss_floor(0.1, 10), 4)
    0.5003
    """
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
    other = label_smoothing / num_classes
    true = 1 - label_smoothing + other
    return 0.0 - sum(p * math.log(p) for p in [true] + [other] * (num_classes - 1) if p > 0)


def _cell(value: float) -> str:
    if isinstance(value, int):
        return f"{value:>15d}"
    return f"{value:>15.4f}" if abs(value) >= 1e-3 else f"{value:>15.2e}"


def _html_cell(name: str, value: float) -> str:
    """One consistent format per column: counts, 4 decimals, the learning rate in 3 digits."""
    if name == "epoch":
        return str(value)
    if name == "lr":
        return f"{value:.3g}"
    if name == "seconds":
        return f"{value:.1f}"
    return f"{value:.4f}"
