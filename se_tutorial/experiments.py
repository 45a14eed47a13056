"""Named sweeps over seeds, one results row per run, with provenance.

    python -m se_tutorial.experiments se-vs-plain --seeds 0 1 2 --budget brief \\
        --out results/se_vs_plain.jsonl

Each finished run is appended to the JSON-lines file at once, under a file
lock, so sweeps running at the same time into one file keep every row; runs
already in the file (re-read before each run) are skipped, so an interrupted
sweep continues where it stopped and concurrent sweeps share the work.
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
from .command_line import SEED
from .data import DATASETS
from .errors import SETutorialError, run_command
from .files import append_line, check_writable, read_text_locked
from .runs import run

PROG = "python -m se_tutorial.experiments"


class ResultsFileError(SETutorialError, ValueError):
    """A results file holds a line that is not JSON."""


#: sweep name -> variants; each variant is a name and the keyword arguments of ``train.run``.
SWEEPS: dict[str, dict[str, dict]] = {
    "se-vs-plain": {"resnet": {"attention": None}, "se-resnet": {"attention": "se"}},
    # The SENet paper's ablations (TPAMI, Tables 10-14), each against plain SE at r = 16.
    # Exactly C / r hidden units: the small-channel rule would distort a study of r.
    "reduction-ratio": {
        f"r={r}": {"attention": "se", "se_options": {"reduction_ratio": r, "exact_reduction": True}}
        for r in (2, 4, 8, 16, 32)
    },
    "squeeze": {name: {"attention": "se", "se_options": {"squeeze": name}} for name in ("avg", "max")},
    "gate": {
        name: {"attention": "se", "se_options": {"gate": name}}
        for name in ("sigmoid", "tanh", "relu", "hard_sigmoid")
    },
    # Zero-init residual (gamma = 0) with a gate that is 0 at 0 (tanh, ReLU) and
    # bias-free FC layers is a fixed point: every residual branch outputs 0 and
    # gets 0 gradient, forever. Starting gamma at 1 compares the gates themselves.
    "gate-no-zero-init": {
        name: {"attention": "se", "se_options": {"gate": name}, "zero_init_residual": False}
        for name in ("sigmoid", "tanh", "relu")
    },
    "placement": {
        name: {"attention": "se", "placement": name} for name in ("standard", "pre", "post", "identity")
    },
    "stages": {
        **{f"stage {stage} only": {"attention": "se", "attention_stages": [stage]} for stage in (1, 2, 3)},
        "all stages": {"attention": "se"},
    },
}


def read_rows(path: Path) -> list[dict]:
    """Rows already written to a JSON-lines results file (none if it does not exist)."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(read_text_locked(path).splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ResultsFileError(
                    f"{path}, line {number}, is not valid JSON ({error}); fix or remove it."
                ) from None
    return rows


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
    chosen = SWEEPS[_checks.choice("sweep", sweep, SWEEPS)]
    names = [_checks.choice(f"{sweep} variant", name, chosen) for name in variants or chosen]
    seeds = [_checks.seed("seed", seed) for seed in seeds]
    check_writable(out, "the results file")
    read_rows(out)  # a damaged file fails now, not after the first run
    budget_name = resolve_budget(budget, default_device()).name
    for seed in seeds:
        for variant in names:
            options = chosen[variant]
            key = (sweep, variant, seed, budget_name, dataset)
            if key in {_key(row) for row in read_rows(out) if "sweep" in row}:
                continue
            row = run(dataset=dataset, budget=budget_name, seed=seed, progress=progress, **options)
            append_line(out, json.dumps({"sweep": sweep, "variant": variant, **row}))
    return read_rows(out)


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
    cli = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    cli.add_argument("sweep", choices=sorted(SWEEPS))
    cli.add_argument("--seeds", type=SEED, nargs="+", default=[0, 1, 2])
    cli.add_argument("--budget", choices=sorted(BUDGETS), default=None)
    cli.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    cli.add_argument("--out", type=Path, required=True, help="JSON-lines results file (appended to)")
    cli.add_argument("--variants", nargs="+", default=None, help="run only these variants of the sweep")
    cli.add_argument("--no-progress", action="store_true")
    args = cli.parse_args(argv)
    for name in args.variants or []:
        if name not in SWEEPS[args.sweep]:
            cli.error(f"{args.sweep} has no variant {name!r}; choose from {', '.join(SWEEPS[args.sweep])}.")
    try:
        check_writable(args.out, "--out")
    except SETutorialError as error:
        cli.error(str(error))
    return run_command(PROG, lambda: _sweep(args))


def _sweep(args: argparse.Namespace) -> int:
    try:
        rows = run_sweep(
            args.sweep, args.seeds, args.out, budget=args.budget, dataset=args.dataset,
            progress=not args.no_progress, variants=args.variants,
        )  # fmt: skip
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"Every finished run is in {args.out}; run the same command again to continue the sweep."
        ) from None
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
