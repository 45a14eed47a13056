"""What SE costs on a CPU: SE-ResNet step time over ResNet step time, paired step by step.

    python benchmarks/cpu_se_overhead.py            # the book's two networks, 401 and 31 rounds
    python benchmarks/cpu_se_overhead.py --smoke    # the logic in seconds

For the brief network (ResNet-8) and the full one (ResNet-20, four times as
wide), each round trains one SGD step of the plain network and of the SE
network three ways: with its readable tail; with the tail as one autograd
function computed by PyTorch operations (``fuse_se`` with the kernel turned
off, :mod:`se_tutorial.nn.fused.cpu`); and with the tail as the compiled
kernel (:mod:`se_tutorial.nn.fused.cpu_kernel`, float32 only; what ``fit``
trains with on a CPU in float32). The variants train on the same random
batch, one step each in turns, in the listed order and then reversed
(``results_record.alternating_runs``). Each round gives a ratio to the plain
network's step in that same round, taken milliseconds apart, so a slow spell
of the machine, which hits neighbouring steps alike, cancels; the result is
the median ratio over rounds with a 95% bootstrap interval for it
(``results_record.median_ratio``). In float32, as ``fit`` trains on a CPU,
and in bfloat16 autocast where the CPU has its instructions. Results go to
benchmarks/results/cpu_se_overhead.json.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
from functools import partial
from pathlib import Path

import torch
from cpu_levers import training_step
from results_record import alternating_runs, median_ratio, write_results

from se_tutorial.nn.fused import cpu_kernel, fuse_se
from se_tutorial.training import BUDGETS, TrainConfig, choose_precision, make_optimizer
from se_tutorial.utils.allocator import reuse_freed_memory
from se_tutorial.utils.provenance import cpu_bfloat16

RESULTS = Path(__file__).parent / "results"
VARIANTS = (
    "ResNet",
    "SE-ResNet, readable tail",
    "SE-ResNet, tail as one function of PyTorch operations",
    "SE-ResNet, tail as one compiled kernel",
)
#: The variant that runs with the compiled kernel turned off.
PYTORCH_OPERATIONS = VARIANTS[2]


def networks(budget: str, batch: int) -> dict[str, tuple]:
    """The three variants of ``budget``'s network, each with its optimizer, on one random batch."""
    spec = BUDGETS[budget].model(seed=0)
    plain = spec.build(in_channels=1)
    se = spec.replace(attention="se").build(in_channels=1)
    models = {VARIANTS[0]: plain, VARIANTS[1]: se, VARIANTS[2]: fuse_se(copy.deepcopy(se)),
              VARIANTS[3]: fuse_se(copy.deepcopy(se))}  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 1, 28, 28, generator=generator).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,), generator=generator)
    setups = {}
    for name, model in models.items():
        model = model.to(memory_format=torch.channels_last).train()
        optimizer, _ = make_optimizer(model, TrainConfig(epochs=1, lr=0.05), 1000)
        setups[name] = (model, optimizer, images, labels)
    return setups


def tail_mode(name: str):
    """The context a variant trains in: the compiled kernel off for the PyTorch-operations variant."""
    return cpu_kernel.disabled() if name == PYTORCH_OPERATIONS else contextlib.nullcontext()


def step_ratios(setups: dict[str, tuple], dtype, rounds: int) -> dict[str, dict]:
    """Each variant's median step time and its median ratio to the plain network's, round by round."""
    for name, setup in setups.items():
        with tail_mode(name):
            for _ in range(2):  # warm-up: allocations, oneDNN's kernel choice, the kernel's build
                training_step(*setup, dtype)

    def one_step(name: str) -> None:
        with tail_mode(name):
            training_step(*setups[name], dtype)

    seconds = alternating_runs({name: partial(one_step, name) for name in setups}, rounds)
    rows = {}
    for name, times in seconds.items():
        ratio = median_ratio(times, seconds[VARIANTS[0]])
        rows[name] = {
            "ms_per_step": round(1000 * statistics.median(times), 2),
            "ratio_to_resnet": round(ratio["median"], 3),
            "interval_95": [round(bound, 3) for bound in ratio["interval"]],
        }
    return rows


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--rounds", type=int, default=31, help="rounds for the full network (seconds a step)")
    cli.add_argument(
        "--brief-rounds", type=int, default=401,
        help="rounds for the brief network: its steps take milliseconds, and more rounds narrow its median",
    )  # fmt: skip
    cli.add_argument("--batch", type=int, default=128)
    cli.add_argument("--smoke", action="store_true", help="three rounds, batch 16")
    cli.add_argument("--out", type=Path, default=RESULTS / "cpu_se_overhead.json")
    args = cli.parse_args()
    batch = 16 if args.smoke else args.batch
    rounds_of = {"brief": 3, "full": 3} if args.smoke else {"brief": args.brief_rounds, "full": args.rounds}
    reuse_freed_memory()  # as fit trains
    fit_precision = choose_precision("cpu")
    # float32 (what fit trains in on a CPU), and bfloat16 autocast where the CPU has its instructions.
    dtypes = {"float32": None, **({"bfloat16": torch.bfloat16} if cpu_bfloat16() else {})}
    results = {}
    for budget in ("brief", "full"):
        setups = networks(budget, batch)
        for dtype_name, dtype in dtypes.items():
            name = f"{budget} network ({BUDGETS[budget].depth} layers, width {BUDGETS[budget].width}), {dtype_name}"
            # The kernel is built for float32 and float64 maps; under bfloat16 it would be variant 2 again.
            chosen = {k: v for k, v in setups.items() if dtype is None or k != VARIANTS[3]}
            results[name] = step_ratios(chosen, dtype, rounds_of[budget])
            for variant, row in results[name].items():
                low, high = row["interval_95"]
                print(f"{name:<42} {variant:<54} {row['ms_per_step']:8.1f} ms/step  "
                      f"x{row['ratio_to_resnet']:.3f} [{low:.3f}, {high:.3f}]")  # fmt: skip
    write_results(
        args.out, "cpu_se_overhead (SE over plain step time, paired step by step)", "cpu",
        batch=batch, rounds=rounds_of, steps_per_round=1, fit_precision=fit_precision.name,
        compiled_kernel=cpu_kernel.unavailable(torch.float32) or "built and used",
        optimizer="SGD, foreach (make_optimizer)", configurations=results,
    )  # fmt: skip


if __name__ == "__main__":
    main()
