"""``python -m se_tutorial.train``: train one model and write its results row as JSON.

Runs under ``torchrun --nproc_per_node=N`` with DistributedDataParallel.
Arguments and output paths are checked before any data is loaded; the
package's known errors end the command with one line on stderr and exit
code 1, Ctrl-C with a line saying what the checkpoint holds and exit code 130.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist

from . import _checks
from .budgets import BUDGETS, resolve_budget
from .checkpoints import check_checkpoint_path
from .data import DATASETS
from .distributed import world
from .errors import SETutorialError, run_command
from .files import atomic_write_text, check_writable
from .runs import MODELS, run
from .train import TrainingInterrupted

PROG = "python -m se_tutorial.train"


def argument_type(name: str, check: Callable[[str, object], object], convert: Callable[[str], object] = int):
    """An argparse ``type``: convert the text, then apply one of :mod:`._checks`' checks."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            kind = "a whole number" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}.") from None
        try:
            return check(name, value)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


EPOCHS = argument_type("epochs", _checks.positive_int)
LR = argument_type("lr", _checks.positive_finite, float)
SEED = argument_type("seed", _checks.seed)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog=PROG,
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
    cli.add_argument("--seed", type=SEED, default=0, help=f"0 to {_checks.SEED_RANGE[1]}")
    cli.add_argument("--epochs", type=EPOCHS, default=None, help="override the budget's epochs")
    cli.add_argument("--lr", type=LR, default=None, help="override the budget's peak learning rate")
    cli.add_argument("--compile", action="store_true", help="use torch.compile")
    cli.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    cli.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint file, written every epoch; never overwritten without --resume",
    )
    cli.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint (start afresh if it does not exist yet)",
    )
    cli.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    cli.add_argument("--out", type=Path, default=None, help="write the results row here (JSON)")
    return cli  # fmt: skip


def check_paths(cli: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fail in the first second, not after the run, on an output that could not be written.

    Also checks ``$SE_TUTORIAL_BUDGET``, the one setting that arrives outside argparse.
    """
    try:
        resolve_budget(args.budget)
    except ValueError as error:
        cli.error(str(error))
    try:
        if args.out is not None:
            check_writable(args.out, "--out")
        check_checkpoint_path(args.checkpoint, args.resume, resume_hint="--resume")
    except SETutorialError as error:
        cli.error(str(error).replace("the checkpoint ", "--checkpoint ", 1))


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.resume and args.checkpoint is None:
        cli.error("--resume needs --checkpoint PATH, the checkpoint to continue from.")
    check_paths(cli, args)
    return run_command(PROG, lambda: _train(args))


def _train(args: argparse.Namespace) -> int:
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
    except TrainingInterrupted as interrupt:  # the command line spells resuming --resume
        raise KeyboardInterrupt(interrupt.describe("--resume (with the same options)")) from None
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
