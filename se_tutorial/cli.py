"""The command line: ``python -m se_tutorial train ...`` and ``python -m se_tutorial sweep NAME ...``.

``train`` trains one model and prints (and with ``--out`` writes) its results
row; it runs under ``torchrun --nproc_per_node=N -m se_tutorial train`` with
DistributedDataParallel. ``sweep`` runs a named sweep over seeds into a
JSON-lines file. Arguments and output paths are checked before any data is
loaded. The package's known errors end a command with one line on stderr and
exit code 1, a bad argument with argparse's usage and exit code 2, and Ctrl-C
with a line saying what was kept and exit code 130.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist

from .data import DATASETS, NORMALIZATION
from .nn.attention import ATTENTION_LAYERS
from .nn.models import CIFAR_DEPTHS
from .studies.results import write_row
from .studies.runs import run
from .studies.sweeps import SWEEPS, run_sweep, summary_table
from .training import BUDGETS, TrainingInterrupted, resolve_budget
from .training.checkpoints import check_checkpoint_path
from .training.config import PRECISIONS
from .training.distributed import world
from .utils import checks
from .utils.errors import SETutorialError
from .utils.files import check_writable

PROG = "python -m se_tutorial"
#: The exit code of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT_CODE = 130


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a command's ``body``; known errors become one line on stderr and exit code 1.

    Ctrl-C becomes the conventional exit code 130 with the interruption's own
    message (which says what was kept). Unexpected errors propagate with their
    traceback: they are bugs, and the traceback is the report.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _first_interrupt) if main_thread else None
    try:
        code = body()
    except SETutorialError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt as interrupt:
        print(f"{prog}: interrupted. {interrupt}".rstrip(), file=sys.stderr)
        return INTERRUPTED_EXIT_CODE  # and further Ctrl-C stays ignored while the process exits
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
    return code


def _first_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C stops the command; a second one, while it saves and reports, is ignored.

    Without this, an impatient second Ctrl-C interrupts the handling of the
    first (or torch's exit handlers) and ends in a traceback instead of the
    command's one line.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def argument_type(name: str, check: Callable[[str, object], object], convert: Callable[[str], object] = int):
    """An argparse ``type``: convert the text, then apply one of :mod:`.utils.checks`' checks."""

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


EPOCHS = argument_type("epochs", checks.positive_int)
LR = argument_type("lr", checks.learning_rate, float)
SEED = argument_type("seed", checks.seed)


def _add_common(command: argparse.ArgumentParser) -> None:
    """The options both commands share, defined once."""
    command.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    command.add_argument(
        "--budget", choices=sorted(BUDGETS), default=None,
        help="default: $SE_TUTORIAL_BUDGET, else full on CUDA and brief otherwise",
    )  # fmt: skip
    command.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog=PROG,
        description="Train (SE-)ResNets on Fashion-MNIST or CIFAR-10 and write their results rows. "
        "`train` runs one model (also under `torchrun --nproc_per_node=N -m se_tutorial train`); "
        "`sweep` runs a named sweep over seeds.",
    )
    commands = cli.add_subparsers(dest="command", required=True, metavar="{train,sweep}")

    train = commands.add_parser("train", help="train one model and write its results row (JSON)")
    train.set_defaults(command_parser=train)
    _add_common(train)
    train.add_argument(
        "--model", choices=sorted(CIFAR_DEPTHS, key=CIFAR_DEPTHS.get), default=None,
        help="ResNet depth (default: the budget's)",
    )  # fmt: skip
    train.add_argument(
        "--attention", choices=["none", *ATTENTION_LAYERS], default="none",
        help="the attention module of every block, by its registered name (default: none)",
    )  # fmt: skip
    train.add_argument("--seed", type=SEED, default=0, help=f"0 to {checks.SEED_RANGE[1]}")
    train.add_argument("--epochs", type=EPOCHS, default=None, help="override the budget's epochs")
    train.add_argument("--lr", type=LR, default=None, help="override the budget's peak learning rate")
    train.add_argument("--compile", action="store_true", help="use torch.compile")
    train.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    train.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="autocast dtype (auto: bfloat16 on GPUs and CPUs that have it, else float16 or float32)",
    )  # fmt: skip
    train.add_argument(
        "--checkpoint", type=Path, default=None,
        help="checkpoint file, written every epoch; never overwritten without --resume",
    )  # fmt: skip
    train.add_argument(
        "--resume", action="store_true",
        help="continue from --checkpoint (start afresh if it does not exist yet)",
    )  # fmt: skip
    train.add_argument("--out", type=Path, default=None, help="write the results row here (JSON)")

    sweep = commands.add_parser(
        "sweep", help="run a named sweep over seeds into a JSON-lines file",
        description="Run every variant of a named sweep for every seed, appending one row per run to "
        "--out. Runs already in the file are skipped, so an interrupted sweep continues where it "
        "stopped, and sweeps running at the same time into one file share the work.",
    )  # fmt: skip
    sweep.set_defaults(command_parser=sweep)
    sweep.add_argument("sweep", choices=sorted(SWEEPS))
    _add_common(sweep)
    sweep.add_argument("--seeds", type=SEED, nargs="+", default=[0, 1, 2])
    sweep.add_argument("--out", type=Path, required=True, help="JSON-lines results file (appended to)")
    sweep.add_argument("--variants", nargs="+", default=None, help="run only these variants of the sweep")
    return cli


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    command = args.command_parser  # errors print that command's own usage
    try:
        resolve_budget(args.budget)  # $SE_TUTORIAL_BUDGET arrives outside argparse
    except ValueError as error:
        command.error(str(error))
    if args.command == "train":
        _check_train(command, args)
        return run_command(f"{PROG} train", lambda: _train(args))
    _check_sweep(command, args)
    return run_command(f"{PROG} sweep", lambda: _sweep(args))


def _check_train(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fail in the first second, not after the run, on an output that could not be written."""
    if args.resume and args.checkpoint is None:
        command.error("--resume needs --checkpoint PATH, the checkpoint to continue from.")
    try:
        if args.out is not None:
            check_writable(args.out, "--out")
        check_checkpoint_path(args.checkpoint, args.resume, resume_hint="--resume")
    except SETutorialError as error:
        command.error(str(error).replace("the checkpoint ", "--checkpoint ", 1))


def _train(args: argparse.Namespace) -> int:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = world()[0]
    model = {} if args.attention == "none" else {"attention": args.attention}
    if args.model:
        model["depth"] = CIFAR_DEPTHS[args.model]
    try:
        row = run(
            model, dataset=args.dataset, budget=args.budget, seed=args.seed, epochs=args.epochs,
            lr=args.lr, compile=args.compile, tta=args.tta, precision=args.precision,
            checkpoint=args.checkpoint, resume=args.resume, progress=not args.no_progress,
        )  # fmt: skip
    except TrainingInterrupted as interrupt:  # the command line spells resuming --resume
        raise KeyboardInterrupt(interrupt.describe("--resume (with the same options)")) from None
    finally:
        if distributed:
            dist.destroy_process_group()
    if rank == 0:
        keys = ("depth", "attention", "budget", "seed", "test_accuracy", "wall_seconds")
        print(json.dumps({key: row[key] for key in keys}))
        if args.out:
            write_row(args.out, row)  # a full disk prints the row instead of losing it
    return 0


def _check_sweep(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        command.error(
            "a sweep trains its runs one after another in one process, so it does not run under "
            "torchrun; train single runs distributed with `torchrun ... -m se_tutorial train` instead."
        )
    sweep, budget = SWEEPS[args.sweep], resolve_budget(args.budget)
    for name in args.variants or []:
        if name not in sweep.variants:
            command.error(f"{args.sweep} has no variant {name!r}; choose from {', '.join(sweep.variants)}.")
        reason = sweep.why_not_buildable(name, budget, len(NORMALIZATION[args.dataset][0]))
        if reason:
            command.error(
                f"{args.sweep} variant {name} cannot be built on the {budget.name} budget: {reason}"
            )
    try:
        check_writable(args.out, "--out")
    except SETutorialError as error:
        command.error(str(error))


def _sweep(args: argparse.Namespace) -> int:
    try:
        rows = run_sweep(
            args.sweep, args.seeds, args.out, budget=args.budget, dataset=args.dataset,
            progress=not args.no_progress, variants=args.variants,
        )  # fmt: skip
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"Every finished run is in {args.out}; run the same command again to continue the sweep."
        ) from None
    print(summary_table(rows))
    return 0
