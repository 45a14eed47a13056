"""Training engine: ``history = fit(model, data, budget="brief")``.

SGD with Nesterov momentum under a one-cycle learning-rate schedule, label
smoothing, bfloat16 autocast and channels-last on CUDA, optional
``torch.compile``, a progress bar, and a checkpoint after every epoch
(written atomically, so Ctrl-C or a crash keeps the last good one; ``resume``
continues from it). Runs unchanged under ``torchrun`` with
DistributedDataParallel. The command line is ``python -m se_tutorial.train``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from . import _checks
from .budgets import BUDGETS, Budget, default_device, resolve_budget
from .data import DATASETS, NORMALIZATION, Augmentation, DeviceLoader, ImageDataset, load_dataset, subset
from .files import atomic_write, atomic_write_text
from .history import History
from .models import cifar_resnet
from .provenance import device_name, provenance


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class CheckpointMismatchError(ValueError):
    """A checkpoint belongs to another model or another training configuration."""


#: Shifts of up to 2 pixels and left-right flips.
DEFAULT_AUGMENTATION = Augmentation()


@dataclass
class Data:
    """Training and test loaders on one device, with the dataset's class names."""

    train: DeviceLoader
    test: DeviceLoader
    classes: list[str]
    name: str
    source: str

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]


def prepare_data(
    dataset: ImageDataset | str = "fashion-mnist",
    *,
    budget: Budget | str | None = None,
    device: torch.device | str | None = None,
    augmentation: Augmentation | str | None = "budget",
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Data:
    """Load ``dataset`` (a name or an :class:`ImageDataset`) onto ``device`` at the budget's size.

    ``augmentation="budget"`` uses :data:`DEFAULT_AUGMENTATION` when the budget
    augments and none otherwise; pass an :class:`Augmentation` or ``None`` to choose.
    """
    device = torch.device(device) if device is not None else default_device()
    budget = budget if isinstance(budget, Budget) else resolve_budget(budget, device)
    if isinstance(augmentation, str):
        _checks.choice("augmentation", augmentation, ["budget"])
        augmentation = DEFAULT_AUGMENTATION if budget.augment else None
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    mean, std = NORMALIZATION[dataset.name]
    train_images, train_labels = subset(dataset.train_images, dataset.train_labels, budget.train_subset, seed)
    test_images, test_labels = subset(dataset.test_images, dataset.test_labels, budget.test_subset, seed)
    if len(train_labels) < budget.batch_size:
        raise ValueError(
            f"the training set has {len(train_labels)} images, fewer than one batch of "
            f"{budget.batch_size}; use a larger train_subset or a smaller batch_size."
        )
    common = dict(device=device, mean=mean, std=std, rank=rank, world_size=world_size)
    train = DeviceLoader(
        train_images, train_labels, budget.batch_size, shuffle=True, augmentation=augmentation,
        seed=seed, drop_last=True, **common,
    )  # fmt: skip
    test = DeviceLoader(test_images, test_labels, 1024, **common)
    return Data(train, test, dataset.classes, dataset.name, dataset.source)


@dataclass
class TrainConfig:
    """Everything ``fit`` needs besides the model and the data."""

    epochs: int = 4
    lr: float = 0.4
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup: float = 0.25  #: fraction of steps spent raising the learning rate
    compile: bool = False
    tta: bool = False  #: also average the predictions of mirrored test images
    seed: int = 0

    def __post_init__(self) -> None:
        _checks.positive_int("epochs", self.epochs)
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}.")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if not 0 < self.warmup < 1:
            raise ValueError(f"warmup must be a fraction in (0, 1), got {self.warmup}.")


# --- distributed helpers (no-ops on one process) --------------------------------------------


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if _world()[1] > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


# --- evaluation -------------------------------------------------------------------------------


def _autocast(device: torch.device):
    # bfloat16 needs no loss scaling and runs on tensor cores; CPUs gain little from it.
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def predict(
    model: nn.Module, loader: DeviceLoader, *, tta: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` (float32) and labels ``(N,)`` for every example ``loader`` yields."""
    was_training = model.training
    model.eval()
    device = torch.device(loader.device)
    outputs, labels = [], []
    try:
        for images, targets in loader:
            with _autocast(device):
                logits = model(images).float()
                if tta:  # average with the mirror image's prediction
                    logits = (logits + model(images.flip(3)).float()) / 2
            outputs.append(logits)
            labels.append(targets)
    finally:
        model.train(was_training)
    return torch.cat(outputs), torch.cat(labels)


def evaluate(model: nn.Module, loader: DeviceLoader, *, tta: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``loader`` (summed over ranks when distributed)."""
    logits, labels = predict(model, loader, tta=tta)
    totals = torch.stack(
        [
            nn.functional.cross_entropy(logits, labels, reduction="sum"),
            (logits.argmax(1) == labels).sum().float(),
            torch.tensor(float(len(labels)), device=logits.device),
        ]
    )
    loss_sum, correct, count = _all_reduce_sum(totals).tolist()
    return loss_sum / count, correct / count


def confusion_matrix(model: nn.Module, loader: DeviceLoader, num_classes: int, *, tta: bool = False):
    """``(classes, classes)`` int64 counts; row = true class, column = predicted class."""
    logits, labels = predict(model, loader, tta=tta)
    pairs = labels * num_classes + logits.argmax(1)
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes).cpu()


# --- checkpoints ---------------------------------------------------------------------------


def architecture(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what a checkpoint must match."""
    return {name: list(tensor.shape) for name, tensor in model.state_dict().items()}


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` into a temporary file, then rename: never a half-written checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda file: file.write(buffer.getbuffer()))


def load_checkpoint(path: Path, model: nn.Module, config: dict) -> dict:
    """Load a checkpoint written by :func:`fit`, after checking it belongs to this run."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("architecture") != architecture(model):
        ours, theirs = architecture(model), state.get("architecture") or {}
        differing = sorted(set(ours) ^ set(theirs)) + [
            k for k in ours if k in theirs and ours[k] != theirs[k]
        ]
        raise CheckpointMismatchError(
            f"{path} was written for a different model: {len(differing)} parameters differ in "
            f"name or shape (first: {differing[:3]}). Resume with the model that wrote it, "
            "or delete the checkpoint / choose another checkpoint path to start afresh."
        )
    if state.get("config") != config:
        changed = sorted(k for k in config if state.get("config", {}).get(k) != config[k])
        raise CheckpointMismatchError(
            f"{path} was written with a different training configuration (changed: {changed}); "
            "resume with the same settings, or delete the checkpoint to start afresh."
        )
    return state


# --- the training loop ---------------------------------------------------------------------


def make_optimizer(
    model: nn.Module, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """SGD with Nesterov momentum and a one-cycle schedule (linear warm-up, linear decay)."""
    if total_steps < 3:
        raise ValueError(
            f"training would take only {total_steps} optimizer steps, too few for a warm-up and a "
            "decay; train for more epochs, on more images, or with a smaller batch_size."
        )
    # No weight decay on batch-norm scales and biases: it only fights their scale invariance.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
    )  # fmt: skip
    # At least two warm-up steps, or the one-cycle schedule has an empty phase.
    warmup = min(max(config.warmup, 2 / total_steps), 0.5)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=warmup,
        anneal_strategy="linear", div_factor=20.0, final_div_factor=200.0,
    )  # fmt: skip
    return optimizer, scheduler


def train_epoch(
    model: nn.Module,
    loader: DeviceLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss_fn: nn.Module,
    epoch: int,
    bar,
) -> dict[str, float]:
    """One pass over ``loader``; returns mean training loss and accuracy, and the last learning rate."""
    device = torch.device(loader.device)
    model.train()
    loader.set_epoch(epoch)
    losses = torch.zeros(len(loader), device=device)  # kept on the device: no sync per step
    correct = torch.zeros((), device=device)
    seen = 0
    for step, (images, labels) in enumerate(loader):
        images = images.contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = model(images)
            loss = loss_fn(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        scheduler.step()
        losses[step] = loss.detach()
        correct += (logits.argmax(1) == labels).sum()
        seen += len(labels)
        bar.update()
        if step % 25 == 0 or step == len(loader) - 1:
            _stop_if_not_finite(losses[: step + 1], epoch, optimizer)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    totals = _all_reduce_sum(torch.stack([losses.sum(), correct, torch.tensor(seen, device=device)]))
    steps = len(loader) * _world()[1]
    return {
        "train_loss": totals[0].item() / steps,
        "train_accuracy": (totals[1] / totals[2]).item(),
        "lr": lr,
    }


def fit(
    model: nn.Module,
    data: Data,
    config: TrainConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    budget: Budget | None = None,
    **overrides,
) -> History:
    """Train ``model`` on ``data`` and return its :class:`History`.

    Args:
        config: the hyperparameters; ``overrides`` (e.g. ``epochs=2``) replace
            single fields. With only ``budget`` given, its epochs and lr are used.
        checkpoint: file written after every epoch (atomically).
        resume: continue from ``checkpoint`` if it exists.
        progress: show a progress bar.
    """
    if config is None:
        budget = budget or resolve_budget(None, data.train.device)
        config = TrainConfig(epochs=budget.epochs, lr=budget.lr)
    config = TrainConfig(**{**asdict(config), **overrides})
    device = torch.device(data.train.device)
    rank, world_size = _world()
    torch.manual_seed(config.seed)

    # channels-last runs convolutions about 1.7x faster on CPUs and uses tensor cores on GPUs.
    model.to(device, memory_format=torch.channels_last)
    train_model: nn.Module = model
    if world_size > 1:
        device_ids = [device] if device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    if config.compile:
        train_model = torch.compile(train_model)

    steps_per_epoch = len(data.train)
    optimizer, scheduler = make_optimizer(model, config, config.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    run_config = {**asdict(config), "steps_per_epoch": steps_per_epoch, "world_size": world_size}
    meta = {"device": device_name(device), "dataset": data.name, "budget": budget.name if budget else None}
    history = History(meta=meta)

    start_epoch = 0
    checkpoint = Path(checkpoint) if checkpoint else None
    if checkpoint and resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, run_config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history.rows = list(state["history"])
        start_epoch = state["epoch"]

    bar = tqdm(
        total=config.epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
        disable=not progress or rank != 0, unit="step", dynamic_ncols=True,
    )  # fmt: skip
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            train = train_epoch(train_model, data.train, optimizer, scheduler, loss_fn, epoch, bar)
            test_loss, test_accuracy = evaluate(model, data.test, tta=config.tta)
            history.append(
                epoch=epoch + 1,
                train_loss=train["train_loss"],
                train_accuracy=train["train_accuracy"],
                test_loss=test_loss,
                test_accuracy=test_accuracy,
                lr=train["lr"],
                seconds=time.perf_counter() - started,
            )
            bar.set_postfix(epoch=epoch + 1, test_accuracy=f"{test_accuracy:.4f}")
            if checkpoint and rank == 0:
                save_checkpoint(
                    checkpoint,
                    {
                        "architecture": architecture(model), "config": run_config, "epoch": epoch + 1,
                        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "history": history.rows,
                    },
                )  # fmt: skip
    except KeyboardInterrupt:
        if checkpoint:
            print(f"Interrupted; the last finished epoch is saved in {checkpoint}. Resume with resume=True.")
        raise
    finally:
        bar.close()
    return history


def _stop_if_not_finite(losses: torch.Tensor, epoch: int, optimizer: torch.optim.Optimizer) -> None:
    bad = _all_reduce_sum((~torch.isfinite(losses)).float())
    if bad.any():
        step = int(bad.nonzero()[0])
        lr = optimizer.param_groups[0]["lr"]
        raise NonFiniteLossError(
            f"the training loss became {losses[step].item()} at epoch {epoch + 1}, step {step + 1} "
            f"(learning rate {lr:.3g}); the run diverged. Lower the learning rate (lr=...), e.g. "
            f"halve it, and train again; the last finished epoch's checkpoint is kept."
        )


# --- command line ------------------------------------------------------------------------------

MODELS = {f"resnet{depth}": depth for depth in (8, 14, 20, 32, 44, 56, 110)}


def build_model(
    budget: Budget,
    *,
    in_channels: int,
    num_classes: int,
    model: str | None = None,
    attention: str | None = None,
) -> nn.Module:
    """The budget's ResNet (or ``model``, e.g. ``"resnet20"``), with or without attention."""
    depth = MODELS[_checks.choice("model", model, MODELS)] if model else budget.depth
    return cifar_resnet(
        depth, in_channels=in_channels, num_classes=num_classes, width=budget.width,
        attention=attention, zero_init_residual=True,
    )  # fmt: skip


def run(
    *,
    dataset: str = "fashion-mnist",
    budget: str | None = None,
    model: str | None = None,
    attention: str | None = None,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    compile: bool = False,
    tta: bool = False,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train one model and return its results row (with provenance). Used by the CLI and sweeps."""
    rank, world_size = _world()
    if world_size > 1 and torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    else:
        device = default_device()
    chosen = resolve_budget(budget, device)
    data = prepare_data(dataset, budget=chosen, device=device, seed=seed, rank=rank, world_size=world_size)
    torch.manual_seed(seed)
    network = build_model(
        chosen, in_channels=data.in_channels, num_classes=len(data.classes), model=model, attention=attention
    )
    config = TrainConfig(
        epochs=epochs or chosen.epochs, lr=lr or chosen.lr, compile=compile, tta=tta, seed=seed
    )
    started = time.perf_counter()
    history = fit(
        network, data, config, checkpoint=checkpoint, resume=resume, progress=progress, budget=chosen
    )
    return {
        "dataset": dataset,
        "model": model or f"resnet{chosen.depth}",
        "width": chosen.width,
        "attention": attention or "none",
        "budget": chosen.name,
        "seed": seed,
        "epochs": config.epochs,
        "world_size": world_size,
        "test_accuracy": history.rows[-1]["test_accuracy"],
        "test_loss": history.rows[-1]["test_loss"],
        "best_test_accuracy": max(row["test_accuracy"] for row in history.rows),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "data_source": data.source,
        "history": history.rows,
        **provenance(device),
    }


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
    rank = _world()[0]
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


if __name__ == "__main__":
    sys.exit(main())
