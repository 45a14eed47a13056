"""The training loop: ``history = fit(model, data, budget=budget)``.

SGD with Nesterov momentum under a one-cycle learning-rate schedule, label
smoothing, mixed precision chosen once per run (:mod:`.precision`),
channels-last memory, optional ``torch.compile``, a progress bar, and a
checkpoint after every epoch (written atomically, so Ctrl-C or a crash keeps
the last good one; ``resume`` continues from it). Runs unchanged under
``torchrun`` with DistributedDataParallel. Divergence and Ctrl-C are watched
by :mod:`.guards`; checkpoints are checked by :mod:`.checkpoints`.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import DeviceLoader
from ..nn.fused import cpu_kernel, fuse_se
from ..utils.allocator import reuse_freed_memory
from ..utils.provenance import device_name
from .checkpoints import architecture, check_checkpoint_path, holding, load_checkpoint, save_checkpoint
from .config import Budget, TrainConfig, resolve_budget
from .distributed import all_reduce_sum, per_parameter_allreduce, world
from .evaluation import evaluate
from .guards import DivergenceWatch, check_test_loss, reporting_stops
from .history import History
from .precision import Precision, choose_precision, skipped_steps_expected
from .prepare import Data


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
        foreach=True,  # the same arithmetic as the per-tensor loop, bit for bit, in fewer calls
    )  # fmt: skip
    # At least two warm-up steps, or the one-cycle schedule has an empty phase.
    warmup = min(max(config.warmup, 2 / total_steps), 0.5)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=warmup,
        anneal_strategy="linear", div_factor=20.0, final_div_factor=200.0, cycle_momentum=False,
    )  # fmt: skip
    return optimizer, scheduler


def learning_rates(config: TrainConfig, total_steps: int) -> list[float]:
    """The learning rate of each of ``total_steps`` steps under :func:`make_optimizer`'s schedule.

    >>> rates = learning_rates(TrainConfig(lr=0.4), 100)
    >>> rates[0], max(rates), rates.index(max(rates))  # the peak ends the first quarter
    (0.02, 0.4, 24)
    """
    parameter = nn.Parameter(torch.zeros(1))
    optimizer, scheduler = make_optimizer(nn.ParameterList([parameter]), config, total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()  # no gradients: nothing changes but the schedule's count
        scheduler.step()
    return rates


def train_epoch(
    model: nn.Module,
    loader: DeviceLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss_fn: nn.Module,
    epoch: int,
    *,
    precision: Precision,
    scaler: torch.amp.GradScaler,
    num_classes: int,
    bar: tqdm | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns mean training loss and accuracy, and the last learning rate.

    ``precision`` gives the autocast dtype and ``scaler`` the loss scaling it
    needs (``precision.grad_scaler()``: float16 only; otherwise every call
    passes through). Stops with :class:`~.guards.NonFiniteLossError` or
    :class:`~.guards.TrainingDivergedError` at the first step that diverged.
    """
    model.train()
    loader.set_epoch(epoch)
    device = torch.device(loader.device)
    watch = DivergenceWatch(model, len(loader), epoch, num_classes, device)
    correct, seen = torch.zeros((), device=device), 0
    for step, (images, labels) in enumerate(loader):
        with precision.autocast():
            logits = model(images.contiguous(memory_format=torch.channels_last))
            loss = loss_fn(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # unscales; skips the update if a float16 gradient overflowed
        scaler.update()
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        with skipped_steps_expected(scaler):
            scheduler.step()  # skipped updates count too, so the schedule ends with the epochs
        correct += (logits.argmax(1) == labels).sum()
        seen += len(labels)
        if watch.record(step, loss, lr) and bar is not None:  # every few steps: checked and shown
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        if bar is not None:
            bar.update()
    totals = all_reduce_sum(torch.stack([watch.losses.sum(), correct, torch.tensor(seen, device=device)]))
    return {
        "train_loss": totals[0].item() / (len(loader) * world()[1]),
        "train_accuracy": (totals[1] / totals[2]).item(),
        "lr": watch.rates[-1],
    }


def ready_for_training(model: nn.Module, device: torch.device, precision: Precision) -> nn.Module:
    """``model`` on ``device`` as :func:`fit` trains it, in place: channels-last, SE tails fused where that pays.

    Channels-last runs convolutions about 1.4x faster on CPUs and uses tensor
    cores on GPUs. On a CPU each SE tail becomes one autograd function
    (:func:`~se_tutorial.nn.fused.fuse_se`): in float32 the compiled kernel of
    :mod:`~se_tutorial.nn.fused.cpu_kernel`, and under bfloat16 autocast the
    same equations as PyTorch operations; each is faster than the readable
    tail (``benchmarks/results/cpu_se_overhead.json``; bfloat16 rows need a
    CPU with bfloat16 instructions, and the file as measured at commit
    fcc4066 on an Intel Xeon has them). Where the kernel cannot be built, a
    float32 model keeps its readable tail, which is then the faster.
    """
    model.to(device, memory_format=torch.channels_last)
    if device.type == "cpu" and (precision.dtype == torch.bfloat16 or cpu_kernel.library(torch.float32)):
        fuse_se(model)
    return model


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
    """Train ``model`` on ``data`` and return its :class:`~.history.History`.

    Args:
        config: the hyperparameters; ``overrides`` (e.g. ``epochs=2``) replace
            single fields. With only ``budget`` given, its epochs and lr are used.
        checkpoint: file written after every epoch that ended healthy (atomically).
            An existing file is never overwritten unless ``resume`` is set, and
            two runs never train into one file at once.
        resume: continue from ``checkpoint`` if it exists (start afresh if not).
        progress: show a progress bar.

    Raises:
        TrainingDivergedError: a loss, weight or batch-norm statistic became
            non-finite, or the test loss exploded; the checkpoint keeps the last
            healthy epoch.
        TrainingInterrupted: Ctrl-C; its message says what the checkpoint holds.
        CheckpointWriteError: the checkpoint could not be written (a full disk);
            its message says which epoch the file still holds.

    Each history row records whether its test metrics averaged mirrored images
    (``tta``); when a resumed run asks for the other kind, the final epoch is
    evaluated again that way, so the last row always answers what was asked.
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
    if device.type == "cpu":
        reuse_freed_memory()  # no page faults on each step's fresh activations
    precision = choose_precision(device, config.precision)  # once per run: the same dtype for every step
    if device.type == "cuda" and rank == 0 and progress:
        print(f"mixed precision: {precision}")
    scaler = precision.grad_scaler()

    ready_for_training(model, device, precision)
    train_model: nn.Module = model
    if world_size > 1:
        device_ids = [device] if device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        train_model.register_comm_hook(None, per_parameter_allreduce)  # makes resuming exact
    if config.compile:
        train_model = torch.compile(train_model)

    steps_per_epoch = len(data.train)
    optimizer, scheduler = make_optimizer(model, config, config.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    run_config = {**asdict(config), "steps_per_epoch": steps_per_epoch, "world_size": world_size}
    history = History(meta={
        "device": device_name(device), "dataset": data.name, "budget": budget.name if budget else None,
        "label_smoothing": config.label_smoothing, "num_classes": len(data.classes),
        "precision": precision.name,
    })  # fmt: skip

    with holding(checkpoint):  # one run at a time trains into a checkpoint file
        resuming = checkpoint and resume and checkpoint.is_file()
        saved_epoch = (
            _resume(checkpoint, model, optimizer, scheduler, scaler, history, run_config)
            if resuming
            else None
        )
        start_epoch = saved_epoch or 0
        bar = tqdm(
            total=config.epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
            disable=not progress or rank != 0, unit="step", dynamic_ncols=True,
        )  # fmt: skip
        with bar, reporting_stops(checkpoint, lambda: saved_epoch):
            for epoch in range(start_epoch, config.epochs):
                started = time.perf_counter()
                train = train_epoch(
                    train_model, data.train, optimizer, scheduler, loss_fn, epoch,
                    precision=precision, scaler=scaler, num_classes=len(data.classes), bar=bar,
                )  # fmt: skip
                test_loss, test_accuracy = evaluate(model, data.test, tta=config.tta, precision=precision)
                check_test_loss(test_loss, len(data.classes), epoch, steps_per_epoch, train["lr"])
                history.append(
                    epoch=epoch + 1, train_loss=train["train_loss"], train_accuracy=train["train_accuracy"],
                    test_loss=test_loss, test_accuracy=test_accuracy, lr=train["lr"],
                    seconds=time.perf_counter() - started, tta=config.tta,
                )  # fmt: skip
                bar.set_postfix(epoch=epoch + 1, test_accuracy=f"{test_accuracy:.4f}")
                if checkpoint:  # only after the epoch proved healthy: a kept checkpoint is a good one
                    if rank == 0:
                        _save(checkpoint, saved_epoch, {
                            "architecture": architecture(model), "config": run_config, "epoch": epoch + 1,
                            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                            "history": history.rows,
                        })  # fmt: skip
                    saved_epoch = epoch + 1
            if history.rows and history.rows[-1]["tta"] != config.tta:  # resumed asking the other kind
                test_loss, test_accuracy = evaluate(model, data.test, tta=config.tta, precision=precision)
                last = {"test_loss": test_loss, "test_accuracy": test_accuracy, "tta": config.tta}
                history.rows[-1] = {**history.rows[-1], **last}
    return history


def _resume(checkpoint, model, optimizer, scheduler, scaler, history, run_config) -> int:
    """Load a checkpoint into the run's objects, after checking all it holds; returns its epoch."""
    state = load_checkpoint(checkpoint, model, run_config, optimizer)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    saved_tta = bool(state["config"].get("tta", False))  # for rows written before rows said
    history.rows = [{"tta": saved_tta, **row} for row in state["history"]]
    return state["epoch"]


def _save(checkpoint: Path, saved_epoch: int | None, state: dict) -> None:
    """Write one epoch's checkpoint; if that fails, the error says what the file still holds."""
    kept = (
        f"{checkpoint} still holds epoch {saved_epoch}: make room, then resume from it."
        if saved_epoch else f"No checkpoint of this run exists at {checkpoint} yet."
    )  # fmt: skip
    save_checkpoint(checkpoint, state, kept)
