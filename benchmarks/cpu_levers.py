"""What each speed lever buys on this CPU: the brief network's training step, lever by lever, in interleaved rounds.

    python benchmarks/cpu_levers.py               # ResNet-8 and SE-ResNet-8, the levers one after another
    python benchmarks/cpu_levers.py --smoke       # the logic in seconds

The levers are added one at a time, each on top of the ones before, in the
order the recipe adopted them: a stride-2 stem (the network's stages at half
the resolution; this one changes what is trained, so its accuracy is measured
end to end, by ``cpu_recipe.py``); channels-last memory; for the SE network,
its tail as one autograd function, which in float32 is the compiled kernel of
:mod:`se_tutorial.nn.fused.cpu_kernel` (as ``fit`` trains it); and last,
where the CPU has bfloat16 instructions, bfloat16 autocast, which the recipe
leaves off. The first rung is none of them: the stride-1 stem, contiguous
memory, float32, the readable block.
Every rung keeps freed memory for the next step, as ``fit`` does
(:mod:`se_tutorial.utils.allocator`); since glibc's own behaviour cannot be
restored within a process, that lever is measured apart, in child processes
that train both networks as ``fit`` does, with and without it, in turns: time and
page faults per step. Evaluating 10,000 test images is timed too, since a run evaluates after every epoch.

Each rung trains one SGD step per round on the same random batch, the rungs
in turns, in the listed order and then reversed
(``results_record.alternating_runs``). A rung's time is the median of its
steps; its speed-up over the rung before is the median over rounds of the
two rungs' ratio within a round, which a slow spell of a shared machine,
hitting neighbouring steps alike, leaves alone. The same run measures the CPU's arithmetic peak (a large matrix
product, float32 and bfloat16) and counts the FLOPs of one training step
(``torch.utils.flop_counter``), so each rung's share of the peak is a ratio
from one run. Results go to benchmarks/results/cpu_levers.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import torch
from results_record import alternating_runs, median_ratio, write_results
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from se_tutorial.nn.fused import cpu_kernel, fuse_se
from se_tutorial.training import BUDGETS, TrainConfig, make_optimizer
from se_tutorial.utils.allocator import reuse_freed_memory
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
    # The compiled SE kernel multiplies out of the counter's sight: count its tail as PyTorch operations.
    with cpu_kernel.disabled(), FlopCounterMode(display=False) as counter:
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def rungs(bfloat16: bool) -> list[tuple[str, dict]]:
    """The ladder: each rung's name and its settings, every lever adding to the ones before."""
    settings = {"stem_stride": 1, "memory": torch.contiguous_format, "dtype": None, "fused": False}
    ladder = [("stride-1 stem, contiguous, float32", dict(settings))]
    steps = [
        ("+ stride-2 stem", {"stem_stride": 2}),
        ("+ channels-last", {"memory": torch.channels_last}),
        ("+ SE tail as one kernel", {"fused": True}),
    ]
    if bfloat16:  # last: the one lever the recipe leaves off
        steps.append(("+ bfloat16 autocast", {"dtype": torch.bfloat16}))
    for name, change in steps:
        settings = {**settings, **change}
        ladder.append((name, dict(settings)))
    return ladder


def as_trained(network: str) -> tuple[str, dict]:
    """The rung ``fit`` trains ``network`` ("ResNet" or "SE-ResNet") at: everything but bfloat16."""
    name = "+ SE tail as one kernel" if network == "SE-ResNet" else "+ channels-last"
    return next(rung for rung in rungs(False) if rung[0] == name)


def evaluation_seconds(model, settings, images: int = 10_000, batch: int = 1024) -> float:
    """Seconds to predict ``images`` random images in batches of ``batch``, as ``evaluate`` does."""
    inputs = torch.randn(batch, 1, 28, 28).contiguous(memory_format=settings["memory"])
    model.eval()
    start = time.perf_counter()
    with torch.no_grad(), torch.autocast("cpu", dtype=settings["dtype"] or torch.bfloat16,
                                         enabled=settings["dtype"] is not None):  # fmt: skip
        for first in range(0, images, batch):
            model(inputs[: min(batch, images - first)])
    seconds = time.perf_counter() - start
    model.train()
    return seconds


def rung_step(model, optimizer, images, labels, settings) -> None:
    training_step(model, optimizer, images, labels, settings["dtype"])


def build(attention: str | None, settings: dict, batch: int, seed: int = 0) -> tuple:
    """A rung's network, optimizer and random batch, warmed up."""
    spec = BUDGETS["brief"].model(attention=attention, seed=seed, stem_stride=settings["stem_stride"])
    model = spec.build(in_channels=1, num_classes=10).to(memory_format=settings["memory"]).train()
    if settings["fused"]:
        fuse_se(model)
    optimizer, _ = make_optimizer(model, TrainConfig(epochs=1, lr=0.1), 1000)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 1, 28, 28, generator=generator).contiguous(memory_format=settings["memory"])
    labels = torch.randint(0, 10, (batch,), generator=generator)
    for _ in range(2):  # warm-up: allocations and oneDNN's kernel choice
        rung_step(model, optimizer, images, labels, settings)
    return model, optimizer, images, labels, settings


def allocator_child(keep_freed: bool, batch: int, steps: int) -> None:
    """In a child process: both networks as ``fit`` trains them, ``steps`` steps each; prints ms and faults per step."""
    if keep_freed:
        reuse_freed_memory()
    measured = {}
    for network, attention in (("ResNet", None), ("SE-ResNet", "se")):
        rung = as_trained(network)
        setup = build(attention, rung[1], batch)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        for _ in range(steps):
            rung_step(*setup)
        measured[network] = {
            "ms_per_step": 1000 * (time.perf_counter() - start) / steps,
            "faults_per_step": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps,
        }
    print(json.dumps(measured))


def allocator_effect(batch: int, steps: int, rounds: int) -> dict:
    """Both networks with glibc's own allocator behaviour and with freed memory kept, child by child in turns."""
    runs: dict[str, list[dict]] = {"glibc as it starts": [], "freed memory kept": []}
    for _ in range(rounds):
        for name, flag in (("glibc as it starts", "off"), ("freed memory kept", "on")):
            command = [sys.executable, __file__, "--allocator-child", flag, "--batch", str(batch),
                       "--steps", str(steps)]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(result.stdout.strip().splitlines()[-1]))
    return {
        name: {
            network: {
                key: round(statistics.median(run[network][key] for run in measured), 1)
                for key in ("ms_per_step", "faults_per_step")
            }
            for network in ("ResNet", "SE-ResNet")
        }
        for name, measured in runs.items()
    }


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--rounds", type=int, default=101, help="rounds of one step per rung")
    cli.add_argument("--steps", type=int, default=40, help="steps of each allocator child")
    cli.add_argument("--batch", type=int, default=128)
    cli.add_argument("--smoke", action="store_true", help="three rounds, batch 32")
    cli.add_argument("--out", type=Path, default=RESULTS / "cpu_levers.json")
    cli.add_argument("--allocator-child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.allocator_child:
        allocator_child(args.allocator_child == "on", args.batch, args.steps)
        return
    rounds, batch = (3, 32) if args.smoke else (args.rounds, args.batch)
    reuse_freed_memory()  # as fit trains; allocator_effect measures the difference it makes
    dtypes = {"float32": None} | ({"bfloat16": torch.bfloat16} if cpu_bfloat16() else {})
    setups = {}
    for attention, (rung, settings) in itertools.product((None, "se"), rungs(cpu_bfloat16())):
        if rung == "+ SE tail as one kernel" and attention is None:
            continue  # the plain network has no SE tail
        setups[f"{'SE-ResNet' if attention else 'ResNet'}: {rung}"] = build(attention, settings, batch)

    per_round = alternating_runs({name: partial(rung_step, *setup) for name, setup in setups.items()}, rounds)
    seconds_per_step = {name: statistics.median(times) for name, times in per_round.items()}
    names = list(setups)
    # Each rung's speed-up over the rung before it (same network), paired round by round.
    speedups = {
        name: round(median_ratio(per_round[before], per_round[name])["median"], 3)
        for before, name in itertools.pairwise(names)
        if before.split(":")[0] == name.split(":")[0]
    }
    allocator_rounds = 1 if args.smoke else 5
    allocator = allocator_effect(batch, 4 if args.smoke else args.steps, allocator_rounds)
    print("allocator:", allocator)
    evaluation = {
        network: round(
            evaluation_seconds(setups[f"{network}: {rung}"][0], setups[f"{network}: {rung}"][4]), 2
        )
        for network, rung in ((n, as_trained(n)[0]) for n in ("ResNet", "SE-ResNet"))
    }
    print("evaluating 10,000 images:", evaluation)

    size, repeats = (256, 2) if args.smoke else (2048, 5)
    peaks = {name: matmul_peak(torch.float32 if dtype is None else dtype, size, repeats)
             for name, dtype in dtypes.items()}  # fmt: skip
    steps_per_epoch = 60_000 // batch
    rows = {}
    for name, (model, _, batch_images, batch_labels, settings) in setups.items():
        seconds = seconds_per_step[name]
        flops = step_flops(model, batch_images, batch_labels)
        peak = peaks["bfloat16" if settings["dtype"] is not None else "float32"]
        rows[name] = {
            "seconds_per_step": round(seconds, 5),
            "seconds_per_epoch": round(seconds * steps_per_epoch, 1),
            "gflop_per_step": round(flops / 1e9, 3),
            "gflop_per_second": round(flops / seconds / 1e9, 1),
            "share_of_peak": round(flops / seconds / peak, 3),
            "speedup_over_rung_before": speedups.get(name),
        }
        print(f"{name:<55} {1000 * seconds:8.1f} ms/step {rows[name]['seconds_per_epoch']:6.1f} s/epoch "
              f"{rows[name]['gflop_per_second']:7.1f} GFLOP/s ({rows[name]['share_of_peak']:.0%} of peak)")  # fmt: skip
    print({name: f"{peak / 1e9:.0f} GFLOP/s" for name, peak in peaks.items()})
    write_results(
        args.out, "cpu_levers (training step of the brief network, lever by lever)", "cpu",
        batch=batch, steps_per_epoch=steps_per_epoch, rounds=rounds, steps_per_round=1,
        matmul_size=size, peak_gflop_per_second={name: round(p / 1e9, 1) for name, p in peaks.items()},
        evaluation_seconds=evaluation, allocator=allocator, allocator_rounds=allocator_rounds,
        configurations=rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
