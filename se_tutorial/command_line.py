"""``python -m se_tutorial.train``: train one model and write its results row as JSON.

Runs under ``torchrun --nproc_per_node=N`` with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist

from .budgets import BUDGETS
from .data import DATASETS
from .distributed import world
from .files import atomic_write_text
from .runs import MODELS, run


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m se_tutorial.train",
        description="Train a (SE-)ResNet on Fashion-MNIST or CIFAR-10 and write a JSON results row. "
        "Runs under `torchrun --nproc_per_node=N` with DistributedDataParallel.",
    )
    cli.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    cli.add_argument(
        "--budget",
        choices=sorted(BUDGETS),
        default=None,
        help="default: $SE_TUTORIAL_BUDGET, else full on CUDA and brief otherwise",
    )
    cli.add_argument(
        "--model",
        choices=sorted(MODELS, key=MODELS.get),
        default=None,
        help="ResNet depth (default: the budget's)",
    )
    cli.add_argument("--attention", choices=["none", "se"], default="none")
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    cli.add_argument("--lr", type=float, default=None, help="override the budget's peak learning rate")
    cli.add_argument("--compile", action="store_true", help="use torch.compile")
    cli.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    cli.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file, written every epoch")
    cli.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    cli.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    cli.add_argument("--out", type=Path, default=None, help="write the results row here (JSON)")
    return cli  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = world()[0]
    try:
        row = run(
            dataset=args.dataset, budget=args.budget, model=args.model,
            attention=None if args.attention == "none" else args.attention, seed=args.seed,
            epochs=args.epochs, lr=args.lr, compile=args.compile, tta=args.tta,
            checkpoint=args.checkpoint, resume=args.resume, progress=not args.no_progress,
        )  # fmt: skip
    finally:
        if distributed:
            dist.destroy_process_group()
    if rank == 0:
        summary = {
            k: row[k] for k in ("model", "attention", "budget", "seed", "test_accuracy", "wall_seconds")
        }
        print(json.dumps(summary))
        if args.out:
            atomic_write_text(args.out, json.dumps(row, indent=2) + "\n")
    return 0
