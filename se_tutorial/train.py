"""The training loop: ``history = fit(model, data, budget="brief")``.

SGD with Nesterov momentum under a one-cycle learning-rate schedule, label
smoothing, mixed precision and channels-last on CUDA (bfloat16, or float16
with loss scaling on GPUs without bfloat16: :mod:`.precision`), optional
``torch.compile``, a progress bar, and a checkpoint after every epoch
(written atomically, so Ctrl-C or a crash keeps the last good one; ``resume``
continues from it). Runs unchanged under ``torchrun`` with
DistributedDataParallel.

The pieces around the loop live in their own modules: :mod:`.prepare` (the
data), :mod:`.config` (the hyperparameters), :mod:`.evaluation`,
:mod:`.checkpoints`, :mod:`.runs` (one run as a results row) and
:mod:`.command_line` (``python -m se_tutorial.train``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .budgets import Budget, resolve_budget
from .checkpoints import architecture, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import DeviceLoader
from .distributed import all_reduce_sum, world
from .evaluation import evaluate
from .history import History
from .precision import autocast, choose_precision, skipped_steps_expected
from .prepare import Data
from .provenance import device_name


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def make_optimizer(
    model: nn.Module, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """SGD with Nesterov momentum and a one-cycle schedule (linear warm-up, linear decay).

    The learning rate rises from ``lr / 20`` to ``lr`` over the first ``warmup``
    fraction of the steps, then falls to ``lr / 4000``. Momentum stays at
    ``config.momentum`` throughout (the schedule does not cycle it).
    """
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
        anneal_strategy="linear", div_factor=20.0, final_div_factor=200.0, cycle_momentum=False,
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
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns mean training loss and accuracy, and the last learning rate.

    ``scaler`` scales the loss for float16 training (see :mod:`.precision`); without one, none.
    """
    device = torch.device(loader.device)
    if scaler is None:
        scaler = torch.amp.GradScaler(device.type, enabled=False)
    model.train()
    loader.set_epoch(epoch)
    losses = torch.zeros(len(loader), device=device)  # kept on the device: no sync per step
    correct = torch.zeros((), device=device)
    seen = 0
    for step, (images, labels) in enumerate(loader):
        images = images.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            logits = model(images)
            loss = loss_fn(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # times the loss scale (1 unless float16 needs scaling)
        scaler.step(optimizer)  # unscales; skips the update if a gradient overflowed
        scaler.update()
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        with skipped_steps_expected(scaler):
            scheduler.step()  # skipped updates count too, so the schedule ends with the epochs
        losses[step] = loss.detach()  # unscaled: the non-finite check sees the real loss
        correct += (logits.argmax(1) == labels).sum()
        seen += len(labels)
        bar.update()
        if step % 25 == 0 or step == len(loader) - 1:
            _stop_if_not_finite(losses[: step + 1], epoch, optimizer)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    totals = all_reduce_sum(torch.stack([losses.sum(), correct, torch.tensor(seen, device=device)]))
    steps = len(loader) * world()[1]
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
    rank, world_size = world()
    torch.manual_seed(config.seed)
    precision = choose_precision(device)
    if device.type == "cuda" and rank == 0 and progress:
        print(f"mixed precision: {precision}")
    scaler = precision.grad_scaler()

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
    meta = {
        "device": device_name(device),
        "dataset": data.name,
        "budget": budget.name if budget else None,
        "label_smoothing": config.label_smoothing,
        "num_classes": len(data.classes),
        "precision": precision.name,
    }
    history = History(meta=meta)

    start_epoch = 0
    checkpoint = Path(checkpoint) if checkpoint else None
    if checkpoint and resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, run_config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history.rows = list(state["history"])
        start_epoch = state["epoch"]

    bar = tqdm(
        total=config.epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
        disable=not progress or rank != 0, unit="step", dynamic_ncols=True,
    )  # fmt: skip
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            train = train_epoch(train_model, data.train, optimizer, scheduler, loss_fn, epoch, bar, scaler)
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
                        "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                        "history": history.rows,
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
    bad = all_reduce_sum((~torch.isfinite(losses)).float())
    if bad.any():
        step = int(bad.nonzero()[0])
        lr = optimizer.param_groups[0]["lr"]
        raise NonFiniteLossError(
            f"the training loss became {losses[step].item()} at epoch {epoch + 1}, step {step + 1} "
            f"(learning rate {lr:.3g}); the run diverged. Lower the learning rate (lr=...), e.g. "
            f"halve it, and train again; the last finished epoch's checkpoint is kept."
        )


if __name__ == "__main__":  # python -m se_tutorial.train: the command line is in command_line.py
    from .command_line import main

    sys.exit(main())
