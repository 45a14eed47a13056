"""How long each training budget takes on this machine, for the book's budget table.

    python benchmarks/budget_times.py            # every budget, SE-ResNet, this device

For each budget it trains the budget's SE-ResNet on Fashion-MNIST the way the
chapters do and reports the seconds of training and evaluation (loading the
data excluded): the median of ``--runs`` whole runs, since on a shared
machine one run can be slowed by its neighbours. A budget too long to run
whole on this device (``full`` on a CPU) is timed on a few training steps
(after two warm-up steps) and one test batch instead, and estimated as
``epochs * (steps * step time + evaluation time)``; the results file says
which. Results go to
benchmarks/results/budget_times_<cpu|cuda>.json with provenance.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from results_record import write_results
from torch import nn

from se_tutorial.data import DeviceLoader
from se_tutorial.training import (
    BUDGETS,
    TrainConfig,
    choose_precision,
    default_device,
    evaluate,
    fit,
    make_optimizer,
    prepare_data,
    ready_for_training,
)

RESULTS = Path(__file__).parent / "results"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_step_at_a_time(model: nn.Module, loader: DeviceLoader) -> Callable[[], None]:
    """A function that trains ``model`` one step per call, as ``fit`` does, on ``loader``'s batches in turn."""
    device = torch.device(loader.device)
    precision = choose_precision(device)
    config = TrainConfig(epochs=1, lr=0.1)
    optimizer, _ = make_optimizer(model, config, max(len(loader), 3))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    batches = itertools.chain.from_iterable(iter(lambda: loader, None))  # epoch after epoch
    model.train()

    def step() -> None:
        images, labels = next(batches)
        with precision.autocast():
            loss = loss_fn(model(images.contiguous(memory_format=torch.channels_last)).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        synchronize(device)

    return step


def step_seconds(model: nn.Module, loader: DeviceLoader, steps: int) -> list[float]:
    """Wall time of ``steps`` training steps, each after two untimed warm-up steps."""
    step = one_step_at_a_time(model, loader)
    times = []
    for index in range(steps + 2):
        start = time.perf_counter()
        step()
        if index >= 2:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    cli.add_argument("--runs", type=int, default=3, help="whole runs of each budget that is run whole")
    cli.add_argument("--out", type=Path, default=None)
    args = cli.parse_args()
    device = default_device()
    # A CPU needs many seconds per step of the full budget: sample steps and one test batch.
    sampled = {"full"} if device.type == "cpu" else set()

    rows = {}
    for name in args.budgets:
        budget = BUDGETS[name]
        data = prepare_data("fashion-mnist", budget=budget, device=device, seed=0)
        spec = budget.model(attention="se", seed=0)
        if name not in sampled:
            runs = []
            for _ in range(args.runs):  # each from the same initial weights
                model = spec.build(in_channels=1, num_classes=10)
                history = fit(model, data, budget=budget, seed=0, progress=False)
                runs.append(round(sum(history.column("seconds")), 1))
            rows[name] = {
                "model": f"SE-ResNet-{budget.depth} x{budget.width}",
                "epochs": budget.epochs,
                "measured": "whole run",
                "seconds_per_model": statistics.median(runs),
                "seconds_of_each_run": runs,
                "test_accuracy": history.rows[-1]["test_accuracy"],
            }
            print(f"{name:>5}: {rows[name]['model']}, {rows[name]['seconds_per_model']} s per model")
            continue
        model = spec.build(in_channels=1, num_classes=10)
        ready_for_training(model, device, choose_precision(device))  # as fit trains it: SE's tail fused
        steps = min(3, len(data.train) - 2)
        times = step_seconds(model, data.train, steps)
        # One test batch, scaled to the whole test set.
        test = prepare_data("fashion-mnist", budget=replace(budget, test_subset=1024), device=device).test
        synchronize(device)
        start = time.perf_counter()
        evaluate(model, test)
        synchronize(device)
        evaluation = (time.perf_counter() - start) * 10_000 / len(test.labels)  # the test set has 10,000
        per_step = statistics.median(times)
        estimate = budget.epochs * (len(data.train) * per_step + evaluation)
        rows[name] = {
            "model": f"SE-ResNet-{budget.depth} x{budget.width}",
            "epochs": budget.epochs,
            "measured": f"estimated from {len(times)} steps and {len(test.labels)} test images",
            "steps_per_epoch": len(data.train),
            "seconds_per_step": round(per_step, 4),
            "evaluation_seconds": round(evaluation, 2),
            "seconds_per_model": round(estimate, 1),
        }
        print(f"{name:>5}: {rows[name]['model']}, {per_step * 1000:.1f} ms/step, "
              f"evaluation {evaluation:.1f} s, about {estimate / 60:.1f} min per model")  # fmt: skip

    out = args.out or RESULTS / f"budget_times_{device.type if device.type == 'cuda' else 'cpu'}.json"
    write_results(out, "budget_times (SE-ResNet, Fashion-MNIST)", device, budgets=rows)


if __name__ == "__main__":
    main()
