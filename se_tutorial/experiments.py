"""Named sweeps over seeds, one results row per run, with provenance.

    python -m se_tutorial.experiments se-vs-plain --seeds 0 1 2 --budget brief \\
        --out results/se_vs_plain.jsonl

Each finished run is appended to the JSON-lines file at once (the file is
rewritten atomically), and runs already in the file are skipped, so an
interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from . import _checks
from .budgets import BUDGETS, default_device, resolve_budget
from .data import DATASETS
from .files import atomic_write_text
from .runs import run

#: sweep name -> variants; each variant is a name and the keyword arguments of ``train.run``.
SWEEPS: dict[str, dict[str, dict]] = {
    "se-vs-plain": {"resnet": {"attention": None}, "se-resnet": {"attention": "se"}},
}


def read_rows(path: Path) -> list[dict]:
    """Rows already written to a JSON-lines results file (none if it does not exist)."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path}, line {number}, is not valid JSON ({error}); fix or remove it."
                ) from None
    return rows


def run_sweep(
    sweep: str,
    seeds: list[int],
    out: Path,
    *,
    budget: str | None = None,
    dataset: str = "fashion-mnist",
    progress: bool = True,
) -> list[dict]:
    """Run every variant of ``sweep`` for every seed; returns all rows in ``out``."""
    variants = SWEEPS[_checks.choice("sweep", sweep, SWEEPS)]
    rows = read_rows(out)
    done = {(r["sweep"], r["variant"], r["seed"], r["budget"], r["dataset"]) for r in rows if "sweep" in r}
    budget_name = resolve_budget(budget, default_device()).name
    for seed in seeds:
        for variant, options in variants.items():
            key = (sweep, variant, seed, budget_name, dataset)
            if key in done:
                continue
            row = run(dataset=dataset, budget=budget_name, seed=seed, progress=progress, **options)
            rows.append({"sweep": sweep, "variant": variant, **row})
            done.add(key)
            atomic_write_text(out, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def summarize(rows: list[dict]) -> str:
    """Mean, standard deviation and count of final test accuracy per (sweep, variant, budget)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        groups[(row.get("sweep", "-"), row.get("variant", row["attention"]), row["budget"])].append(
            row["test_accuracy"]
        )
    lines = [f"{'sweep':<14}{'variant':<12}{'budget':<8}{'seeds':>6}{'mean acc':>10}{'std':>8}"]
    for (sweep, variant, budget), values in sorted(groups.items()):
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        lines.append(
            f"{sweep:<14}{variant:<12}{budget:<8}{len(values):>6}{statistics.mean(values):>10.4f}{spread:>8.4f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m se_tutorial.experiments", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    cli.add_argument("sweep", choices=sorted(SWEEPS))
    cli.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    cli.add_argument("--budget", choices=sorted(BUDGETS), default=None)
    cli.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    cli.add_argument("--out", type=Path, required=True, help="JSON-lines results file (appended to)")
    cli.add_argument("--no-progress", action="store_true")
    args = cli.parse_args(argv)
    rows = run_sweep(
        args.sweep,
        args.seeds,
        args.out,
        budget=args.budget,
        dataset=args.dataset,
        progress=not args.no_progress,
    )
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
