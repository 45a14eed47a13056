"""Does bfloat16 autocast on this CPU train as well as float32, and how much faster? Paired by seed.

    python benchmarks/cpu_precision.py --seeds 0 1 2          # brief budget, ResNet and SE-ResNet
    python benchmarks/cpu_precision.py --smoke                # the logic in seconds

Every seed trains each model twice, in float32 and in bfloat16 (only where the
CPU has bfloat16 instructions: ``cpu_bfloat16()``), from the same initial
weights on the same batches; the two runs of a seed alternate which goes
first, so a slow spell of a shared machine does not always hit one. Reported:
each run's final test accuracy and training time (``fit``'s wall time,
evaluation included, data loading excluded), and per model the paired
difference bfloat16 minus float32 with its 95% interval. Results go to
benchmarks/results/cpu_precision.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from results_record import write_results

from se_tutorial.studies import paired_difference, run
from se_tutorial.utils.provenance import cpu_bfloat16

RESULTS = Path(__file__).parent / "results"
MODELS = {"ResNet": {}, "SE-ResNet": {"attention": "se"}}


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    cli.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    cli.add_argument("--smoke", action="store_true", help="smoke budget, seeds 0 and 1")
    cli.add_argument("--out", type=Path, default=RESULTS / "cpu_precision.json")
    args = cli.parse_args()
    if not cpu_bfloat16():
        raise SystemExit("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX); nothing to compare.")
    budget, seeds = ("smoke", [0, 1]) if args.smoke else ("brief", args.seeds)

    runs = []
    for seed in seeds:
        for model in args.models:
            order = ("float32", "bfloat16") if seed % 2 == 0 else ("bfloat16", "float32")
            for precision in order:
                row = run(MODELS[model], budget=budget, seed=seed, precision=precision, progress=False)
                seconds = sum(epoch["seconds"] for epoch in row["history"])
                runs.append({"model": model, "seed": seed, "precision": row["precision"],
                             "test_accuracy": row["test_accuracy"], "train_seconds": round(seconds, 3)})  # fmt: skip
                print(
                    f"{model:<10} seed {seed} {row['precision']:<9} {row['test_accuracy']:.2%} {seconds:6.1f} s"
                )

    summary = {}
    for model in args.models:
        of = {
            p: {r["seed"]: r for r in runs if (r["model"], r["precision"]) == (model, p)}
            for p in ("float32", "bfloat16")
        }
        d = paired_difference([of["float32"][s]["test_accuracy"] for s in seeds],
                              [of["bfloat16"][s]["test_accuracy"] for s in seeds])  # fmt: skip
        speedup = [of["float32"][s]["train_seconds"] / of["bfloat16"][s]["train_seconds"] for s in seeds]
        summary[model] = {
            "bfloat16_minus_float32_points": round(100 * d.mean, 2),
            "interval_points": [round(100 * d.low, 2), round(100 * d.high, 2)],
            "median_speedup": round(statistics.median(speedup), 2),
        }
        print(model, summary[model])
    write_results(args.out, f"cpu_precision ({budget} budget, float32 against bfloat16)", "cpu",
                  budget=budget, seeds=seeds, runs=runs, summary=summary)  # fmt: skip


if __name__ == "__main__":
    main()
