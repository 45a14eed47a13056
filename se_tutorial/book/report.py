"""Results rows as the tables a chapter shows: one line of provenance, accuracies by seed, paired comparisons.

A chapter shows its results with a call or two; the formatting lives here,
tested, instead of on the page. The tables are pandas DataFrames, which the
book renders as HTML tables that reflow on a narrow screen. Their cells are
formatted text (``"92.24%"``, ``"[-1.63, +0.15]"``), so the numbers that the
prose under a table quotes are exactly the ones the reader sees in it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from ..nn.cost import count_flops, count_parameters
from ..studies.contrasts import CONTRASTS, Contrast, estimate, per_seed
from ..studies.excitations import BlockExcitations, class_specificity
from ..studies.stats import accuracy_interval, holm, paired_difference, summarize
from ..training.history import History
from .chapter import fit_to_page


def one_header_row(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its index's name shown in the header row's corner instead of a row of its own.

    >>> frame = pd.DataFrame({"accuracy": ["92.24%"]}, index=pd.Index([0], name="seed"))
    >>> print(one_header_row(frame))
    seed accuracy
    0      92.24%
    """
    return frame.rename_axis(index=None, columns=frame.index.name)


def provenance(rows: Iterable[dict], width: int | None = None) -> str:
    """Where a set of runs came from, in one line: runs, budget, seeds, device, torch, commits, dates.

    With ``width``, the line breaks between its items to fit that many characters.

    >>> rows = [{"budget": "brief", "epochs": 3, "precision": "bfloat16", "seed": s, "device": "AMD EPYC",
    ...          "torch": "2.4", "commit": "61dadcb", "date": f"2026-11-2{s}T16:00:00+00:00"} for s in (0, 1, 2)]
    >>> provenance(rows)
    '3 runs, brief budget (3 epochs, bfloat16), seeds 0-2, AMD EPYC, torch 2.4, commit 61dadcb, 2026-11-20 to 2026-11-22'

    Rows written before rows recorded the precision name none.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no runs to describe; read a results file with runs of this budget first.")

    def values(key: str) -> list:
        return sorted({str(row[key]) for row in rows})

    seeds = sorted({row["seed"] for row in rows})
    contiguous = seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2
    seed_text = f"seeds {seeds[0]}-{seeds[-1]}" if contiguous else "seeds " + ", ".join(map(str, seeds))
    dates = sorted(row["date"][:10] for row in rows)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    commits = values("commit")
    epochs = sorted({str(row["epochs"]) for row in rows if "epochs" in row})
    precisions = sorted({row["precision"] for row in rows if "precision" in row})
    recipe = ([" and ".join(epochs) + " epochs"] if epochs else []) + precisions
    budget = " and ".join(values("budget")) + " budget" + (f" ({', '.join(recipe)})" if recipe else "")
    items = ([
        f"{len(rows)} runs", budget, seed_text, *values("device"),
        "torch " + " and ".join(values("torch")), ("commit " if len(commits) == 1 else "commits ")
        + ", ".join(commits), when,
    ])  # fmt: skip
    # (separator, text) pieces; an item wider than the page (a long CPU name) breaks at its spaces
    pieces = [
        (", " if index and not part else " ", piece)
        for index, item in enumerate(items)
        for part, piece in enumerate(fit_to_page(item, width - 1).splitlines() if width else [item])
    ]
    lines = [pieces[0][1]]
    for separator, piece in pieces[1:]:
        if width is not None and len(lines[-1]) + len(separator) + len(piece) + 1 > width:  # room for a comma
            lines[-1] += separator.rstrip()
            lines.append(piece)
        else:
            lines[-1] += separator + piece
    return "\n".join(lines)


def runs_by_sweep(rows: Iterable[dict]) -> pd.DataFrame:
    """How many runs each sweep has, of which seeds, at which commits: one row per sweep, in order met."""
    table: dict[str, list[dict]] = {}
    for row in rows:
        table.setdefault(row["sweep"], []).append(row)
    return pd.DataFrame(
        [
            {"sweep": sweep, "runs": len(runs), "seeds": " ".join(map(str, sorted({r["seed"] for r in runs}))),
             "commit": ", ".join(sorted({r["commit"] for r in runs}))}
            for sweep, runs in table.items()
        ]
    ).set_index("sweep").pipe(one_header_row)  # fmt: skip


def made_by(sweep: str, rows: Iterable[dict], budget: str, name: str | None = None) -> str:
    """The command that made ``rows``, on three lines that fit the page.

    The results file is ``book/results/<name>_<budget>.jsonl``, as
    :func:`~.repository.stored_runs` reads it (``name`` defaults to the sweep's).

    >>> print(made_by("se-and-init", [{"seed": 0}, {"seed": 1}], "brief"))
    made by: python -m se_tutorial sweep se-and-init \\
        --seeds 0 1 --budget brief \\
        --out book/results/se_and_init_brief.jsonl
    """
    seeds = " ".join(str(seed) for seed in sorted({row["seed"] for row in rows}))
    out = f"book/results/{name or sweep.replace('-', '_')}_{budget}.jsonl"
    return f"made by: python -m se_tutorial sweep {sweep} \\\n    --seeds {seeds} --budget {budget} \\\n    --out {out}"


def seed_accuracies(rows: Iterable[dict], variant: str) -> dict[int, float]:
    """Final test accuracy of ``variant``'s runs, by seed: ``{seed: accuracy}``."""
    return {row["seed"]: row["test_accuracy"] for row in rows if row.get("variant") == variant}


def p_text(p: float) -> str:
    """A p-value to three decimals, or ``"<0.001"`` where that would print 0.000.

    >>> p_text(0.0241), p_text(0.00004)
    ('0.024', '<0.001')
    """
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def interval_text(low: float, high: float) -> str:
    """A confidence interval of fractions, in points: ``"[-1.63, +0.15]"``."""
    return f"[{low * 100:+.2f}, {high * 100:+.2f}]"


def accuracies_by_seed(rows: Iterable[dict], labels: Mapping[str, str]) -> pd.DataFrame:
    """Final test accuracy per seed (rows) and model (columns), and each model minus the first, in points.

    ``labels`` maps each variant to its column's name, in order; the first is
    the one the others are compared with. Only seeds every model has are shown.
    """
    rows = list(rows)
    runs = {label: seed_accuracies(rows, variant) for variant, label in labels.items()}
    seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
    if not seeds:
        raise ValueError(
            f"no seed has runs of every model ({', '.join(labels)}); run the missing ones first."
        )
    (first, base), *others = runs.items()
    table = {label: [f"{runs[label][s]:.2%}" for s in seeds] for label in runs}
    for label, accuracy in others:
        table[f"{label} - {first}"] = [f"{(accuracy[s] - base[s]) * 100:+.2f}" for s in seeds]
    return one_header_row(pd.DataFrame(table, index=pd.Index(seeds, name="seed")))


def paired_summary(rows: Iterable[dict], labels: Mapping[str, str], confidence: float = 0.95) -> pd.DataFrame:
    """Each model's accuracy over seeds and, paired by seed, its difference from the first model.

    One column per model (so the table stays narrow enough for a phone) and
    one row per statistic: seeds, mean and standard deviation of the accuracy;
    then, for every model but the first, the mean difference in points, its
    confidence interval (Student's t), how many seeds came out higher and
    lower, and the paired t test's p-value.
    """
    rows = list(rows)
    runs = {label: seed_accuracies(rows, variant) for variant, label in labels.items()}
    (first, base), *_ = runs.items()
    interval = f"{confidence:.0%} interval"
    names = ["seeds", "mean accuracy", "std (points)", f"minus {first} (points)", interval,
             "seeds higher / lower", "p (paired t)"]  # fmt: skip
    table = {}
    for label, accuracy in runs.items():
        summary = summarize(list(accuracy.values()))
        column = [str(summary.n), f"{summary.mean:.2%}", f"{summary.std * 100:.2f}", "-", "-", "-", "-"]
        shared = sorted(set(accuracy) & set(base))
        if label != first and len(shared) >= 2:
            d = paired_difference([base[s] for s in shared], [accuracy[s] for s in shared], confidence)
            column[3:] = [
                f"{d.mean * 100:+.2f}", interval_text(d.low, d.high),
                f"{d.higher} / {d.lower}", f"{d.p_value:.2f}",
            ]  # fmt: skip
        table[label] = column
    return one_header_row(pd.DataFrame(table, index=pd.Index(names, name="over seeds")))


def trained_comparison(runs: Mapping[str, tuple[nn.Module, History]], example: torch.Tensor) -> pd.DataFrame:
    """Models trained in a chapter, ``{name: (model, history)}``, side by side; the first is the reference.

    One column per model (narrow enough for a phone): its final test accuracy,
    that accuracy minus the first model's in points, parameters, FLOPs of one
    ``example`` input ``(1, C, H, W)``, the training time and that time
    relative to the first model's.
    """
    (first, (_, reference)), *_ = runs.items()

    def seconds(history: History) -> float:
        return sum(history.column("seconds"))

    table = {}
    for name, (model, history) in runs.items():
        accuracy = history.rows[-1]["test_accuracy"]
        table[name] = [
            f"{accuracy:.2%}",
            "-" if name == first else f"{(accuracy - reference.rows[-1]['test_accuracy']) * 100:+.2f}",
            f"{count_parameters(model):,}",
            f"{count_flops(model, tuple(example.shape)) / 1e6:.1f}",
            f"{seconds(history):.1f}",  # to the tenth, so the ratio below can be checked
            "-" if name == first else f"{seconds(history) / seconds(reference):.2f}x",
        ]
    names = ["test accuracy", f"minus {first} (points)", "parameters", "MFLOPs per image",
             "training time (s)", f"time vs {first}"]  # fmt: skip
    return one_header_row(pd.DataFrame(table, index=pd.Index(names, name="after training")))


def excitation_table(stats: Mapping[str, BlockExcitations]) -> pd.DataFrame:
    """Per SE block: class specificity, spread of its weights, range of its class means, share above 0.9.

    See :mod:`se_tutorial.studies.excitations` for what each measures.
    """
    return pd.DataFrame(
        [
            {"block": name, "specificity": f"{class_specificity(block):.2f}", "spread": f"{block.spread:.3f}",
             "class means": f"{block.class_means.min():.2f} to {block.class_means.max():.2f}",
             "above 0.9": f"{block.near_one:.1%}"}
            for name, block in stats.items()
        ]
    ).set_index("block").pipe(one_header_row)  # fmt: skip


@dataclass(frozen=True)
class NotedTable:
    """A table and one line under it that says what it rests on (budget, seeds, machine)."""

    table: pd.DataFrame
    note: str

    def _repr_html_(self) -> str:
        return self.table.to_html() + f"<p>{html.escape(self.note)}</p>"

    def __repr__(self) -> str:
        return f"{self.table.to_string()}\n{self.note}"


def contrast_table(
    rows: Iterable[dict], budget: str, contrasts: Mapping[str, Contrast] = CONTRASTS
) -> pd.DataFrame:
    """Every contrast of ``contrasts`` that ``rows`` can estimate: one row each, in points.

    Columns: the mean over seeds, its 95% interval (Student's t), how many seeds
    came out above and below zero, the t test's p-value, and that p-value after
    Holm's correction over the contrasts in the table (one family: read
    together, some would exclude zero by chance). Contrasts with fewer than two
    complete seeds are left out.
    """
    rows = list(rows)
    found = {name: per_seed(rows, weights, budget) for name, weights in contrasts.items()}
    estimates = {name: estimate(values) for name, values in found.items() if len(values) >= 2}
    if not estimates:
        raise ValueError(f"no contrast has two complete seeds of {budget} runs; run the sweeps first.")
    adjusted = holm([d.p_value for d in estimates.values()])
    table = [
        {"contrast": name, "points": f"{d.mean * 100:+.2f}", "95% interval": interval_text(d.low, d.high),
         "seeds + / -": f"{d.higher} / {d.lower}", "p": f"{d.p_value:.3f}", "p (Holm)": f"{p:.3f}"}
        for (name, d), p in zip(estimates.items(), adjusted, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(table).set_index("contrast").pipe(one_header_row)


def noise_sources(rows: Iterable[dict], labels: Mapping[str, str], test_images: int) -> pd.DataFrame:
    """The noise under a comparison, in points: the test set's sampling floor beside the seeds' spread.

    For each model of ``labels`` (variant: name; the first is the reference):
    the half-width of the exact binomial 95% interval of its mean accuracy on
    ``test_images`` images (how far one network's accuracy could move on
    another test set of that size), and the standard deviation of its accuracy
    over seeds (how far retraining moves it on this test set). Then, for each
    other model, the standard deviation over seeds of its difference from the
    reference, and the half-width of that difference's 95% interval.
    """
    rows = list(rows)
    runs = {label: seed_accuracies(rows, variant) for variant, label in labels.items()}
    (first, base), *_ = runs.items()
    table = []
    for label, accuracy in runs.items():
        summary = summarize(list(accuracy.values()))
        low, high = accuracy_interval(round(summary.mean * test_images), test_images)
        entry = {"model": label, "test-set floor (±)": f"{(high - low) / 2 * 100:.2f}",
                 "seed std": f"{summary.std * 100:.2f}", f"std of minus {first}": "-", "interval (±)": "-"}  # fmt: skip
        shared = sorted(set(accuracy) & set(base))
        if label != first and len(shared) >= 2:
            d = paired_difference([base[s] for s in shared], [accuracy[s] for s in shared])
            differences = [accuracy[s] - base[s] for s in shared]
            entry[f"std of minus {first}"] = f"{summarize(differences).std * 100:.2f}"
            entry["interval (±)"] = f"{(d.high - d.low) / 2 * 100:.2f}"
        table.append(entry)
    return pd.DataFrame(table).set_index("model").pipe(one_header_row)
