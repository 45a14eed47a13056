"""Does torch.compile pay off within one CPU training run of the brief network?

    python benchmarks/cpu_compile.py              # ResNet-8 and SE-ResNet-8, batch 128
    python benchmarks/cpu_compile.py --smoke      # batch 16, one round

For each network, trained as ``fit`` trains it on this CPU (its precision,
channels-last, freed memory kept, SE tails fused; under compilation the SE
tail is the readable one, which the compiler fuses itself): the time of the
first two compiled steps (compilation included), then eager and compiled
step times taken in turns over the same random batch (median over rounds of
each round's median). The compile time
pays off after ``compile_seconds / (eager - compiled)`` steps; a brief run has
``epochs * steps_per_epoch`` of them. Results go to
benchmarks/results/cpu_compile.json.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import torch
from results_record import interleaved_seconds, write_results
from torch import nn

from se_tutorial.nn.fused import fuse_se
from se_tutorial.training import BUDGETS, TrainConfig, choose_precision, make_optimizer
from se_tutorial.utils.allocator import reuse_freed_memory

RESULTS = Path(__file__).parent / "results"


def step(model: nn.Module, optimizer, images: torch.Tensor, labels: torch.Tensor, precision) -> None:
    with precision.autocast():
        loss = nn.functional.cross_entropy(model(images).float(), labels, label_smoothing=0.1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--batch", type=int, default=128)
    cli.add_argument("--rounds", type=int, default=5)
    cli.add_argument("--steps", type=int, default=8, help="timed steps per mode and round")
    cli.add_argument("--smoke", action="store_true")
    cli.add_argument("--out", type=Path, default=RESULTS / "cpu_compile.json")
    args = cli.parse_args()
    batch, rounds, steps = (16, 1, 1) if args.smoke else (args.batch, args.rounds, args.steps)
    budget = BUDGETS["brief"]
    run_steps = budget.epochs * (60_000 // budget.batch_size)  # the loader drops a last partial batch
    precision = choose_precision("cpu")
    reuse_freed_memory()

    rows = {}
    for name, attention in (("ResNet-8", None), ("SE-ResNet-8", "se")):
        torch._dynamo.reset()
        model = budget.model(attention=attention, seed=0).build(in_channels=1, num_classes=10)
        model = fuse_se(model.to(memory_format=torch.channels_last).train())
        optimizer, _ = make_optimizer(model, TrainConfig(epochs=1, lr=0.1), 1000)
        compiled = torch.compile(model)
        generator = torch.Generator().manual_seed(0)
        images = torch.randn(batch, 1, 28, 28, generator=generator).contiguous(
            memory_format=torch.channels_last
        )
        labels = torch.randint(0, 10, (batch,), generator=generator)
        start = time.perf_counter()
        for _ in range(2):
            step(compiled, optimizer, images, labels, precision)
        compile_seconds = time.perf_counter() - start
        step(model, optimizer, images, labels, precision)  # eager warm-up
        times = interleaved_seconds(
            {"eager": partial(step, model, optimizer, images, labels, precision),
             "compiled": partial(step, compiled, optimizer, images, labels, precision)},
            rounds, steps,
        )  # fmt: skip
        eager, fast = times["eager"], times["compiled"]
        saved = eager - fast
        rows[name] = {
            "compile_seconds": round(compile_seconds, 1),
            "eager_ms_per_step": round(1000 * eager, 1),
            "compiled_ms_per_step": round(1000 * fast, 1),
            "speedup": round(eager / fast, 3),
            "steps_to_pay_off": round(compile_seconds / saved) if saved > 0 else None,
            "steps_in_a_brief_run": run_steps,
        }
        print(name, rows[name])
    write_results(
        args.out, f"torch.compile on CPU (brief network, batch {batch}, channels-last {precision.name})", "cpu",
        batch=batch, precision=precision.name, rounds=rounds, steps_per_round=steps, networks=rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
