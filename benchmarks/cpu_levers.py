"""What each speed lever buys on this CPU: training-step time of the brief network, in interleaved rounds.

    python benchmarks/cpu_levers.py               # ResNet-8 and SE-ResNet-8, every lever
    python benchmarks/cpu_levers.py --smoke       # the logic in seconds

Levers: the batch size, the memory format (contiguous or channels-last) and
the autocast dtype (float32, or bfloat16 where the CPU has bfloat16
instructions). Each configuration trains ``--steps`` SGD steps per round on
the same random batches, round after round in turns, so a slow spell of a
shared machine hits all of them alike; a configuration's time is the median
over rounds of its median step. The same run measures the CPU's arithmetic
peak (a large matrix product, float32 and bfloat16) and counts the FLOPs of
one training step (``torch.utils.flop_counter``), so each configuration's
share of the peak is a ratio from one run. Results go to
benchmarks/results/cpu_levers.json.
"""

from __future__ import annotations

import argparse
import itertools
import time
from functools import partial
from pathlib import Path

import torch
from results_record import interleaved_seconds, write_results
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from se_tutorial.training import BUDGETS, TrainConfig, make_optimizer
from se_tutorial.utils.provenance import cpu_bfloat16

RESULTS = Path(__file__).parent / "results"


def matmul_peak(dtype: torch.dtype, size: int, repeats: int) -> float:
    """FLOP/s of a ``size`` x ``size`` matrix product in ``dtype``: the best of ``repeats``."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def training_step(model: nn.Module, optimizer, images, labels, dtype: torch.dtype | None) -> None:
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        loss = nn.functional.cross_entropy(model(images).float(), labels, label_smoothing=0.1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def step_flops(model: nn.Module, images, labels) -> int:
    """FLOPs of one forward and backward pass (matrix products and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument("--steps", type=int, default=5, help="timed steps per configuration and round")
    cli.add_argument("--batches", type=int, nargs="+", default=[128, 256, 512])
    cli.add_argument("--smoke", action="store_true", help="one round of one step, batch 32")
    cli.add_argument("--out", type=Path, default=RESULTS / "cpu_levers.json")
    args = cli.parse_args()
    rounds, steps, batches = (1, 1, [32]) if args.smoke else (args.rounds, args.steps, args.batches)
    dtypes = {"float32": None} | ({"bfloat16": torch.bfloat16} if cpu_bfloat16() else {})
    formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    budget = BUDGETS["brief"]
    config = TrainConfig(epochs=1, lr=0.1)

    setups = {}
    for attention, batch, memory, dtype in itertools.product((None, "se"), batches, formats, dtypes):
        name = f"{'SE-ResNet' if attention else 'ResNet'}, batch {batch}, {memory}, {dtype}"
        model = budget.model(attention=attention, seed=0).build(in_channels=1, num_classes=10)
        model = model.to(memory_format=formats[memory]).train()
        optimizer, _ = make_optimizer(model, config, 1000)
        generator = torch.Generator().manual_seed(0)
        images = torch.randn(batch, 1, 28, 28, generator=generator).contiguous(memory_format=formats[memory])
        labels = torch.randint(0, 10, (batch,), generator=generator)
        for _ in range(2):  # warm-up: allocations and oneDNN's kernel choice
            training_step(model, optimizer, images, labels, dtypes[dtype])
        setups[name] = (model, optimizer, images, labels, dtypes[dtype], batch)

    seconds_per_step = interleaved_seconds(
        {name: partial(training_step, *setup[:4], setup[4]) for name, setup in setups.items()}, rounds, steps
    )

    size, repeats = (256, 2) if args.smoke else (2048, 5)
    peaks = {dtype: matmul_peak(torch.bfloat16 if dtype == "bfloat16" else torch.float32, size, repeats)
             for dtype in dtypes}  # fmt: skip
    rows = {}
    for name, (model, _, images, labels, dtype, batch) in setups.items():
        seconds = seconds_per_step[name]
        flops = step_flops(model, images, labels)
        rows[name] = {
            "seconds_per_step": round(seconds, 5),
            "ms_per_image": round(1000 * seconds / batch, 4),
            "gflop_per_step": round(flops / 1e9, 3),
            "gflop_per_second": round(flops / seconds / 1e9, 1),
            "share_of_peak": round(flops / seconds / peaks["bfloat16" if dtype else "float32"], 3),
        }
        print(f"{name:<50} {1000 * seconds:8.1f} ms/step {rows[name]['ms_per_image']:7.3f} ms/image "
              f"{rows[name]['gflop_per_second']:7.1f} GFLOP/s ({rows[name]['share_of_peak']:.0%} of peak)")  # fmt: skip
    print({dtype: f"{peak / 1e9:.0f} GFLOP/s" for dtype, peak in peaks.items()})
    write_results(
        args.out, "cpu_levers (training step of the brief network, random batches)", "cpu",
        rounds=rounds, steps_per_round=steps, matmul_size=size,
        peak_gflop_per_second={dtype: round(peak / 1e9, 1) for dtype, peak in peaks.items()},
        configurations=rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
