"""How long each training budget takes on this machine, for the book's budget table.

    python benchmarks/budget_times.py            # every budget, SE-ResNet, this device

For each budget it builds the budget's SE-ResNet on Fashion-MNIST and times
training steps (after two warm-up steps) and the evaluation of the test set,
then estimates one model's training as ``epochs * (steps * step time +
evaluation time)``. Long budgets are timed on a sample of steps and of test
batches, which the results file states; loading the data is not included.
Results go to benchmarks/results/budget_times_<cpu|gpu>.json with provenance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from se_tutorial.budgets import BUDGETS, default_device
from se_tutorial.config import TrainConfig
from se_tutorial.data import DeviceLoader
from se_tutorial.evaluation import evaluate
from se_tutorial.files import atomic_write_text
from se_tutorial.precision import autocast
from se_tutorial.prepare import prepare_data
from se_tutorial.provenance import provenance
from se_tutorial.runs import build_model
from se_tutorial.train import make_optimizer

RESULTS = Path(__file__).parent / "results"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_seconds(model: nn.Module, loader: DeviceLoader, steps: int) -> list[float]:
    """Wall time of ``steps`` training steps, each after two untimed warm-up steps."""
    device = torch.device(loader.device)
    config = TrainConfig(epochs=1, lr=0.1)
    optimizer, _ = make_optimizer(model, config, max(len(loader), 3))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    model.train()
    times = []
    batches = iter(loader)
    for index in range(steps + 2):
        images, labels = next(batches)
        synchronize(device)
        start = time.perf_counter()
        with autocast(device):
            loss = loss_fn(model(images.contiguous(memory_format=torch.channels_last)).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        synchronize(device)
        if index >= 2:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    cli.add_argument("--out", type=Path, default=None)
    args = cli.parse_args()
    device = default_device()
    # A CPU needs minutes per step of the full budget: time a few steps and a test sample.
    sampled_steps = {"smoke": 6, "brief": 30, "full": 30 if device.type == "cuda" else 3}
    test_batches = {"smoke": None, "brief": None, "full": None if device.type == "cuda" else 1}

    rows = {}
    for name in args.budgets:
        budget = BUDGETS[name]
        data = prepare_data("fashion-mnist", budget=budget, device=device, seed=0)
        model = build_model(budget, in_channels=1, num_classes=10, attention="se", seed=0)
        model.to(device, memory_format=torch.channels_last)
        steps = min(sampled_steps[name], len(data.train) - 2)
        times = step_seconds(model, data.train, steps)
        test = data.test
        sample = test_batches[name]
        if sample is not None:  # evaluate a few batches and scale to the whole test set
            count = min(sample * test.batch_size, len(test.labels))
            test = DeviceLoader(
                test.images[:count] * 1, test.labels[:count], test.batch_size, mean=(0.0,), std=(1.0,),
                device=test.device,
            )  # fmt: skip
        synchronize(device)
        start = time.perf_counter()
        evaluate(model, test)
        synchronize(device)
        evaluation = (time.perf_counter() - start) * len(data.test.labels) / len(test.labels)
        per_step = statistics.median(times)
        estimate = budget.epochs * (len(data.train) * per_step + evaluation)
        rows[name] = {
            "model": f"SE-ResNet-{budget.depth} x{budget.width}",
            "epochs": budget.epochs,
            "steps_per_epoch": len(data.train),
            "timed_steps": len(times),
            "seconds_per_step": round(per_step, 4),
            "evaluation_seconds": round(evaluation, 2),
            "test_images_timed": len(test.labels),
            "estimated_seconds_per_model": round(estimate, 1),
        }
        print(f"{name:>5}: {rows[name]['model']}, {per_step * 1000:.1f} ms/step, "
              f"evaluation {evaluation:.1f} s, about {estimate / 60:.1f} min per model")  # fmt: skip

    record = {
        "benchmark": "budget_times (SE-ResNet, Fashion-MNIST)",
        **provenance(device),
        "threads": torch.get_num_threads(),
        "budgets": rows,
    }
    out = args.out or RESULTS / f"budget_times_{device.type if device.type == 'cuda' else 'cpu'}.json"
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
