"""A training history: one row per epoch, shown as a table or a plot in one call."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

COLUMNS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds")


@dataclass
class History:
    """Per-epoch metrics of one run: ``history.rows[i]["test_accuracy"]``, ``history.plot()``."""

    rows: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  #: device, dataset, budget

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

    def _repr_html_(self) -> str:  # Jupyter shows the table
        head = "".join(f"<th>{name}</th>" for name in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(row[n]).strip())}</td>" for n in COLUMNS) + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def plot(self, axes=None, label: str | None = None):
        """Loss and accuracy curves on two axes (created if not given); returns the figure."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
        prefix = f"{label} " if label else ""
        epochs = self.column("epoch")
        for split, style in (("train", "--"), ("test", "-")):
            axes[0].plot(epochs, self.column(f"{split}_loss"), style, label=f"{prefix}{split}")
            axes[1].plot(epochs, self.column(f"{split}_accuracy"), style, label=f"{prefix}{split}")
        axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
        axes[1].set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
        for ax in axes:
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # epochs are whole numbers
            ax.legend()
            ax.grid(alpha=0.3)
        return axes[0].figure


def _cell(value: float) -> str:
    if isinstance(value, int):
        return f"{value:>15d}"
    return f"{value:>15.4f}" if abs(value) >= 1e-3 else f"{value:>15.2e}"
