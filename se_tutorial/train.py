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

import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .budgets import Budget, resolve_budget
from .checkpoints import architecture, check_checkpoint_path, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import DeviceLoader
from .distributed import all_reduce_sum, world
from .errors import SETutorialError
from .evaluation import evaluate
from .history import History
from .precision import autocast, choose_precision, skipped_steps_expected
from .prepare import Data
from .provenance import device_name

#: A training or test loss this many times that of guessing uniformly (ln of the class
#: count) means the run has diverged: even a badly trained model stays within a few times of it.
EXPLODED_LOSS_FACTOR = 10.0


class TrainingDivergedError(SETutorialError, FloatingPointError):
    """Training diverged: a loss, a weight or a batch-norm statistic became non-finite, or the test loss exploded.

    ``epoch`` and ``step`` (1-based) locate the step that diverged and ``lr``
    is the learning rate that step used; ``checkpoint`` is the last good
    checkpoint, or ``None`` if none was written.
    """

    def __init__(self, message: str, *, epoch: int, step: int, lr: float, checkpoint: Path | None) -> None:
        super().__init__(message)
        self.epoch, self.step, self.lr, self.checkpoint = epoch, step, lr, checkpoint


class NonFiniteLossError(TrainingDivergedError):
    """The training loss, the weights or the batch-norm statistics became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``; says whether a checkpoint to resume from exists.

    ``saved_epoch`` is the last epoch the checkpoint holds, or ``None`` when no
    checkpoint exists (none was asked for, or the first epoch had not ended).
    """

    def __init__(self, checkpoint: Path | None, saved_epoch: int | None, resume_hint: str = "resume=True"):
        self.checkpoint, self.saved_epoch = checkpoint, saved_epoch
        super().__init__(self.describe(resume_hint))

    def describe(self, resume_hint: str) -> str:
        """The message, with resuming spelled as the caller spells it (``--resume`` on the command line)."""
        if self.checkpoint is None:
            return "Training was interrupted; no checkpoint was asked for, so its progress is lost."
        if self.saved_epoch is None:
            return (
                f"Training was interrupted before its first epoch ended; no checkpoint exists yet "
                f"at {self.checkpoint}, so a new run starts from the beginning."
            )
        return (
            f"Training was interrupted; the last finished epoch ({self.saved_epoch}) is saved in "
            f"{self.checkpoint}. Continue from it with {resume_hint}."
        )


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

    Stops with :class:`NonFiniteLossError` at the first step whose loss, or
    whose updated weights or batch-norm statistics, are not finite, and with
    :class:`TrainingDivergedError` at the first whose loss exploded.
    ``scaler`` scales the loss for float16 training (see :mod:`.precision`); without one, none.
    """
    device = torch.device(loader.device)
    if scaler is None:
        scaler = torch.amp.GradScaler(device.type, enabled=False)
    model.train()
    loader.set_epoch(epoch)
    losses = torch.zeros(len(loader), device=device)  # kept on the device: no sync per step
    healthy = torch.ones(len(loader), dtype=torch.bool, device=device)  # weights finite after each step
    watched = [t for t in (*model.parameters(), *model.buffers()) if torch.is_floating_point(t)]
    rates = []  # the learning rate of every step, to name the one that diverged
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
        rates.append(scheduler.get_last_lr()[0])  # the rate this step used
        with skipped_steps_expected(scaler):
            scheduler.step()  # skipped updates count too, so the schedule ends with the epochs
        losses[step] = loss.detach()  # unscaled: the divergence checks see the real loss
        healthy[step] = _all_finite(watched)
        correct += (logits.argmax(1) == labels).sum()
        seen += len(labels)
        bar.update()
        if step % 25 == 0 or step == len(loader) - 1:
            limit = _loss_limit(logits.shape[1])
            _stop_if_diverged(model, losses[: step + 1], healthy[: step + 1], limit, epoch, rates)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    totals = all_reduce_sum(torch.stack([losses.sum(), correct, torch.tensor(seen, device=device)]))
    steps = len(loader) * world()[1]
    return {
        "train_loss": totals[0].item() / steps,
        "train_accuracy": (totals[1] / totals[2]).item(),
        "lr": rates[-1],
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
        checkpoint: file written after every epoch that ended healthy (atomically).
            An existing file is never overwritten unless ``resume`` is set.
        resume: continue from ``checkpoint`` if it exists (start afresh if not).
        progress: show a progress bar.

    Raises:
        TrainingDivergedError: a loss, weight or batch-norm statistic became
            non-finite, or the test loss exploded; the checkpoint keeps the last
            healthy epoch.
        TrainingInterrupted: Ctrl-C; its message says what the checkpoint holds.
    """
    checkpoint = Path(checkpoint) if checkpoint else None
    check_checkpoint_path(checkpoint, resume)
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
    saved_epoch = None  # the epoch the checkpoint file holds, once there is one
    if checkpoint and resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, run_config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history.rows = list(state["history"])
        start_epoch = saved_epoch = state["epoch"]

    bar = tqdm(
        total=config.epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
        disable=not progress or rank != 0, unit="step", dynamic_ncols=True,
    )  # fmt: skip
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            train = train_epoch(train_model, data.train, optimizer, scheduler, loss_fn, epoch, bar, scaler)
            test_loss, test_accuracy = evaluate(model, data.test, tta=config.tta)
            _stop_if_test_loss_exploded(test_loss, len(data.classes), epoch, steps_per_epoch, train["lr"])
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
            if checkpoint:  # only after the epoch proved healthy: a kept checkpoint is a good one
                if rank == 0:
                    save_checkpoint(
                        checkpoint,
                        {
                            "architecture": architecture(model), "config": run_config, "epoch": epoch + 1,
                            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                            "history": history.rows,
                        },
                    )  # fmt: skip
                saved_epoch = epoch + 1
    except TrainingDivergedError as error:  # add what is left on disk, truthfully
        raise type(error)(
            f"{error} {_kept(checkpoint, saved_epoch)}", epoch=error.epoch, step=error.step, lr=error.lr,
            checkpoint=checkpoint if saved_epoch else None,
        ) from None  # fmt: skip
    except KeyboardInterrupt:
        raise TrainingInterrupted(checkpoint, saved_epoch) from None
    finally:
        bar.close()
    return history


def _all_finite(tensors: list[torch.Tensor]) -> torch.Tensor:
    """One device-side flag, no sync: are all of ``tensors`` free of NaN and infinity?"""
    if not tensors:
        return torch.ones((), dtype=torch.bool)
    return torch.stack([t.isfinite().all() for t in tensors]).all()


def _loss_limit(num_classes: int) -> float:
    """The cross-entropy beyond which a run has diverged: far above guessing uniformly's ln(C)."""
    return EXPLODED_LOSS_FACTOR * math.log(max(num_classes, 2))


def _stop_if_diverged(
    model: nn.Module,
    losses: torch.Tensor,
    healthy: torch.Tensor,
    limit: float,
    epoch: int,
    rates: list[float],
) -> None:
    """Raise for the first step, on any rank, whose loss or updated weights went wrong."""
    bad = all_reduce_sum(torch.stack([~torch.isfinite(losses), ~healthy, ~(losses <= limit)]).float())
    if not bad.any():
        return
    step = int(bad.sum(0).nonzero()[0])
    error: type[TrainingDivergedError] = NonFiniteLossError
    if bad[0, step]:
        what = f"the training loss became {losses[step].item()}"
    elif bad[1, step]:
        named = [*model.named_parameters(), *model.named_buffers()]
        broken = [name for name, t in named if torch.is_floating_point(t) and not t.isfinite().all()]
        what = f"the weights or batch-norm statistics became non-finite (first: {', '.join(broken[:3])})"
    else:
        error = TrainingDivergedError
        what = f"the training loss exploded to {losses[step].item():.4g} (beyond {limit:.3g})"
    raise error(
        f"{what} at epoch {epoch + 1}, step {step + 1} (learning rate {rates[step]:.3g}); the run "
        "diverged. Lower the learning rate (lr=...), e.g. halve it, and train again.",
        epoch=epoch + 1, step=step + 1, lr=rates[step], checkpoint=None,
    )  # fmt: skip


def _stop_if_test_loss_exploded(
    test_loss: float, num_classes: int, epoch: int, steps: int, lr: float
) -> None:
    """Raise :class:`TrainingDivergedError` if the test loss is non-finite or far above chance's."""
    limit = _loss_limit(num_classes)
    if math.isfinite(test_loss) and test_loss <= limit:
        return
    raise TrainingDivergedError(
        f"the test loss after epoch {epoch + 1} is {test_loss:.4g}, beyond {limit:.3g} "
        f"({EXPLODED_LOSS_FACTOR:g} times that of guessing uniformly): the run diverged by "
        f"epoch {epoch + 1}, step {steps} (learning rate {lr:.3g}). Lower the learning rate "
        "(lr=...), e.g. halve it, and train again.",
        epoch=epoch + 1, step=steps, lr=lr, checkpoint=None,
    )  # fmt: skip


def _kept(checkpoint: Path | None, saved_epoch: int | None) -> str:
    """What a diverged run leaves behind, truthfully."""
    if checkpoint is None:
        return "No checkpoint was asked for."
    if saved_epoch is None:
        return f"No checkpoint was written to {checkpoint}: the run diverged before an epoch ended healthy."
    return f"The checkpoint of epoch {saved_epoch}, the last healthy one, is kept in {checkpoint}."


if __name__ == "__main__":  # python -m se_tutorial.train: the command line is in command_line.py
    from .command_line import main

    sys.exit(main())
