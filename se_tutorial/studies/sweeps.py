"""Named sweeps: variants of one network over seeds, one results row per run.

    python -m se_tutorial sweep se-vs-plain --seeds 0 1 2 --budget brief \\
        --out results/se_vs_plain.jsonl

A :class:`Sweep` names a baseline network and its variants, each variant a
few :class:`~se_tutorial.nn.ModelSpec` fields changed from the baseline's.
Each finished run is appended to the JSON-lines file at once, under a file
lock, so sweeps running at the same time into one file keep every row; runs
already in the file (re-read before each run) are skipped, so an interrupted
sweep continues where it stopped and concurrent sweeps share the work.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..training import default_device, resolve_budget
from ..utils import checks
from ..utils.files import append_line, check_writable
from .results import read_rows
from .runs import run


@dataclass(frozen=True)
class Sweep:
    """A baseline network and its variants, each a set of overrides of the baseline's fields.

    ``base`` gives the baseline's :class:`~se_tutorial.nn.ModelSpec` fields
    that differ from the budget's plain network; ``variants`` maps each
    variant's name (the baseline's included, with no overrides) to the fields
    it changes. ``attention_options`` merge key by key.
    """

    baseline: str
    base: Mapping[str, object]
    variants: Mapping[str, Mapping[str, object]]

    def fields(self, variant: str) -> dict[str, object]:
        """The ModelSpec fields of ``variant``: the baseline's, with the variant's overrides.

        >>> SWEEPS["reduction-ratio"].fields("r=4")
        {'attention': 'se', 'attention_options': {'reduction_ratio': 4, 'hidden_channels': 'exact'}}
        """
        overrides = self.variants[checks.choice("variant", variant, self.variants)]
        merged = {**self.base, **overrides}
        if "attention_options" in overrides:
            merged["attention_options"] = {
                **self.base.get("attention_options", {}),
                **overrides["attention_options"],
            }
        return merged


def _gates(*names: str) -> dict[str, dict]:
    return {name: {} if name == "sigmoid" else {"attention_options": {"gate": name}} for name in names}


SE = {"attention": "se"}

#: The sweeps by name: SE against plain, and the SENet paper's ablations (TPAMI, Tables 10-14).
SWEEPS: dict[str, Sweep] = {
    "se-vs-plain": Sweep("resnet", {}, {"resnet": {}, "se-resnet": SE}),
    # Exactly C / r hidden units: the small-channel rule would distort a study of r.
    "reduction-ratio": Sweep(
        "r=16",
        {**SE, "attention_options": {"reduction_ratio": 16, "hidden_channels": "exact"}},
        {
            f"r={r}": {"attention_options": {"reduction_ratio": r}} if r != 16 else {}
            for r in (2, 4, 8, 16, 32)
        },
    ),
    "squeeze": Sweep("avg", SE, {"avg": {}, "max": {"attention_options": {"squeeze": "max"}}}),
    "gate": Sweep("sigmoid", SE, _gates("sigmoid", "tanh", "relu", "hard_sigmoid")),
    # Zero-init residual (gamma = 0) with a gate that is 0 at 0 (tanh, ReLU) and
    # bias-free FC layers is a fixed point: every residual branch outputs 0 and
    # gets 0 gradient, forever. Starting gamma at 1 compares the gates themselves.
    "gate-no-zero-init": Sweep(
        "sigmoid", {**SE, "zero_init_residual": False}, _gates("sigmoid", "tanh", "relu")
    ),
    "placement": Sweep(
        "standard",
        SE,
        {"standard": {}, **{name: {"placement": name} for name in ("pre", "post", "identity")}},
    ),
    "stages": Sweep(
        "all stages",
        SE,
        {**{f"stage {stage} only": {"attention_stages": (stage,)} for stage in (1, 2, 3)}, "all stages": {}},
    ),
}


def _key(row: dict) -> tuple:
    return (row["sweep"], row["variant"], row["seed"], row["budget"], row["dataset"])


def run_sweep(
    sweep: str,
    seeds: list[int],
    out: Path,
    *,
    budget: str | None = None,
    dataset: str = "fashion-mnist",
    progress: bool = True,
    variants: list[str] | None = None,
) -> list[dict]:
    """Run every variant of ``sweep`` (or those named in ``variants``) for every seed.

    Returns all rows in ``out``.

    Another sweep may append to ``out`` meanwhile: the file is re-read before
    each run, so a run that one of them finished is not repeated.
    """
    chosen = SWEEPS[checks.choice("sweep", sweep, SWEEPS)]
    names = [checks.choice(f"{sweep} variant", name, chosen.variants) for name in variants or chosen.variants]
    seeds = [checks.seed("seed", seed) for seed in seeds]
    check_writable(out, "the results file")
    read_rows(out)  # a damaged file fails now, not after the first run
    budget_name = resolve_budget(budget, default_device()).name
    for seed in seeds:
        for variant in names:
            key = (sweep, variant, seed, budget_name, dataset)
            if key in {_key(row) for row in read_rows(out) if "sweep" in row}:
                continue
            row = run(
                chosen.fields(variant), dataset=dataset, budget=budget_name, seed=seed, progress=progress
            )
            append_line(out, json.dumps({"sweep": sweep, "variant": variant, **row}))
    return read_rows(out)


def summarize(rows: list[dict]) -> str:
    """Mean, standard deviation and count of final test accuracy per (sweep, variant, budget)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        variant = row.get("variant", row.get("attention") or "none")
        groups[(row.get("sweep", "-"), variant, row["budget"])].append(row["test_accuracy"])
    lines = [f"{'sweep':<14}{'variant':<12}{'budget':<8}{'seeds':>6}{'mean acc':>10}{'std':>8}"]
    for (sweep, variant, budget), values in sorted(groups.items()):
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        lines.append(
            f"{sweep:<14}{variant:<12}{budget:<8}{len(values):>6}{statistics.mean(values):>10.4f}{spread:>8.4f}"
        )
    return "\n".join(lines)
