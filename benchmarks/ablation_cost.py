"""What every variant of a set of sweeps costs: parameters, FLOPs and training-step time.

    python benchmarks/ablation_cost.py            # the ablation studies, brief-budget models
    python benchmarks/ablation_cost.py --sweeps attention   # chapter 7's modules
    python benchmarks/ablation_cost.py --smoke    # the logic in seconds

Each variant of the sweeps named (by default those of
``se_tutorial.studies.STUDIES``), with the plain ResNet and standard SE, is
built as the sweep builds it, and trained as ``fit`` trains it on
this device (its precision, channels-last; on a CPU, freed memory kept, and
standard SE's tail fused, as ``fit`` fuses it). Step times are taken in turns:
in every round each model trains one step on the next real batch, in the
listed order and then reversed (``results_record.alternating_runs``), so a
slow spell of a shared machine hits neighbouring steps alike. Each model's
time is the median of its steps; its cost is the median of the rounds'
ratios to the plain ResNet's step, with a 95% bootstrap interval, and to
standard SE's (``results_record.median_ratio``). Results go to
benchmarks/results/<ablation|attention>_cost_<cpu|cuda>.json with provenance.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from budget_times import one_step_at_a_time
from results_record import alternating_runs, median_ratio, write_results

from se_tutorial import count_flops, count_parameters
from se_tutorial.studies import STUDIES, SWEEPS
from se_tutorial.studies.ablations import own_variants
from se_tutorial.studies.sweeps import PLAIN, STANDARD_SE
from se_tutorial.training import BUDGETS, choose_precision, default_device, prepare_data, ready_for_training
from se_tutorial.utils.allocator import reuse_freed_memory

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--rounds", type=int, default=201, help="rounds of one step per model")
    cli.add_argument("--smoke", action="store_true", help="smoke budget, three rounds")
    cli.add_argument(
        "--sweeps", nargs="+", choices=sorted(SWEEPS), default=list(STUDIES), metavar="SWEEP",
        help="the sweeps whose variants to time (default: the ablation studies)",
    )  # fmt: skip
    cli.add_argument("--out", type=Path, default=None)
    args = cli.parse_args()
    rounds = 3 if args.smoke else args.rounds
    budget = BUDGETS["smoke" if args.smoke else "brief"]
    device = default_device()
    data = prepare_data("fashion-mnist", budget=budget, device=device, seed=0)

    # The plain ResNet and standard SE, then every variant that builds its own model (the
    # studies' aliases of those two share their models).
    configurations = {":".join(key): SWEEPS[key[0]].fields(key[1]) for key in (PLAIN, STANDARD_SE)}
    for sweep in args.sweeps:
        for variant in own_variants(sweep):
            configurations[f"{sweep}:{variant}"] = SWEEPS[sweep].fields(variant)
    # A variant that builds the very network of an earlier one (attention:se is standard SE) is
    # timed once, and both names get that row.
    models, skipped, aliases, specs = {}, {}, {}, {}
    for name, options in configurations.items():
        spec = budget.model(**options, seed=0)
        same = next((earlier for earlier, other in specs.items() if other == spec), None)
        if same is not None:
            aliases[name] = same
            continue
        specs[name] = spec
        try:
            models[name] = spec.build(in_channels=1, num_classes=10)
        except ValueError as error:  # e.g. exactly C/32 units of a 16-channel stage
            skipped[name] = str(error)
            print(f"{name}: not built ({error})")
    if device.type == "cpu":
        reuse_freed_memory()
    for model in models.values():
        ready_for_training(model, device, choose_precision(device))  # as fit trains it

    steps = {name: one_step_at_a_time(model, data.train) for name, model in models.items()}
    for step in [*steps.values()] * 2:  # warm-up: allocations, oneDNN's kernel choice, the SE kernel's build
        step()
    seconds = alternating_runs(steps, rounds)

    standard, plain = seconds[":".join(STANDARD_SE)], seconds[":".join(PLAIN)]
    rows = {}
    for name, model in models.items():
        vs_plain = median_ratio(seconds[name], plain)
        rows[name] = {
            "parameters": count_parameters(model),
            "flops": count_flops(model, (1, 1, 28, 28)),
            "seconds_per_step": round(statistics.median(seconds[name]), 5),
            "time_vs_standard_se": round(median_ratio(seconds[name], standard)["median"], 3),
            "time_vs_plain": round(vs_plain["median"], 3),
            "time_vs_plain_interval_95": [round(bound, 3) for bound in vs_plain["interval"]],
        }
        print(f"{name:<34}{rows[name]['parameters']:>9,}{rows[name]['flops'] / 1e6:>9.2f} MFLOPs"
              f"{rows[name]['seconds_per_step'] * 1000:>9.1f} ms{rows[name]['time_vs_plain']:>7.2f}x plain")  # fmt: skip

    for name, same in aliases.items():
        if same in rows:
            rows[name] = rows[same]
    kind = "ablation" if sorted(args.sweeps) == sorted(STUDIES) else "_".join(args.sweeps)
    out = args.out or RESULTS / f"{kind}_cost_{'cuda' if device.type == 'cuda' else 'cpu'}.json"
    write_results(
        out, f"{kind}_cost (step time per variant)", device, sweeps=args.sweeps,
        budget=budget.name, batch_size=budget.batch_size, rounds=rounds, steps_per_round=1,
        variants=rows, not_built=skipped,
    )  # fmt: skip


if __name__ == "__main__":
    main()
