"""One training run, from names to a results row: what the command line and the sweeps call.

``run(budget="brief", attention="se", seed=0)`` loads the data, builds the
budget's model, trains it with :func:`~se_tutorial.train.fit` and returns a
JSON-ready row with the final metrics, the per-epoch history and provenance.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from . import _checks, se_block
from .attention import AttentionFactory, attention_layer
from .budgets import Budget, default_device, resolve_budget
from .checkpoints import check_checkpoint_path
from .config import TrainConfig
from .cost import count_parameters
from .distributed import world
from .models import cifar_resnet
from .prepare import prepare_data
from .provenance import provenance
from .train import fit

#: ``--model`` names of the small-image ResNets: name -> depth.
MODELS = {f"resnet{depth}": depth for depth in (8, 14, 20, 32, 44, 56, 110)}


def build_model(
    budget: Budget,
    *,
    in_channels: int,
    num_classes: int,
    model: str | None = None,
    attention: str | AttentionFactory | None = None,
    se_options: dict | None = None,
    placement: str = "standard",
    attention_stages: Sequence[int] | None = None,
    zero_init_residual: bool = True,
    seed: int | None = None,
) -> nn.Module:
    """The budget's ResNet (or ``model``, e.g. ``"resnet20"``), with or without attention.

    ``se_options`` configures SE blocks (``reduction_ratio``, ``squeeze``,
    ``gate``, and ``exact_reduction=True`` for exactly ``C / r`` hidden units
    instead of the small-channel rule); ``placement`` and ``attention_stages``
    say where they go. ``zero_init_residual`` starts every residual branch at
    zero (its last BN's gamma = 0), so each block begins as the identity.
    With ``seed``, every layer is initialised from its own generator keyed by
    ``(seed, layer name)``: a ResNet and an SE-ResNet built with the same seed
    start with identical weights in every layer they share.
    """
    depth = MODELS[_checks.choice("model", model, MODELS)] if model else budget.depth
    if se_options is not None:
        if attention != "se":
            raise ValueError(f"se_options configure SE blocks; pass attention='se', not {attention!r}.")
        attention = se_factory(**se_options)
    return cifar_resnet(
        depth, in_channels=in_channels, num_classes=num_classes, width=budget.width,
        attention=attention, placement=placement, attention_stages=attention_stages,
        zero_init_residual=zero_init_residual, seed=seed,
    )  # fmt: skip


def se_factory(
    *, exact_reduction: bool = False, reduction_ratio: int = 16, **options: object
) -> AttentionFactory:
    """The SE factory for ``se_options``: ``exact_reduction`` gives ``C / r`` units, without the rule."""
    if exact_reduction:
        options["hidden_channels"] = se_block.exact_reduction(reduction_ratio)
    return attention_layer("se", reduction_ratio=reduction_ratio, **options)


def run(
    *,
    dataset: str = "fashion-mnist",
    budget: str | None = None,
    model: str | None = None,
    attention: str | None = None,
    se_options: dict | None = None,
    placement: str = "standard",
    attention_stages: Sequence[int] | None = None,
    zero_init_residual: bool = True,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    compile: bool = False,
    tta: bool = False,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train one model and return its results row (with provenance).

    ``epochs`` and ``lr`` default to the budget's (``None``); every argument is
    checked, and the checkpoint path too, before any data is loaded.
    """
    rank, world_size = world()
    if world_size > 1 and torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    else:
        device = default_device()
    chosen = resolve_budget(budget, device)
    config = TrainConfig(
        epochs=chosen.epochs if epochs is None else epochs, lr=chosen.lr if lr is None else lr,
        compile=compile, tta=tta, seed=seed,
    )  # fmt: skip
    check_checkpoint_path(checkpoint, resume)
    data = prepare_data(dataset, budget=chosen, device=device, seed=seed, rank=rank, world_size=world_size)
    network = build_model(
        chosen, in_channels=data.in_channels, num_classes=len(data.classes), model=model,
        attention=attention, se_options=se_options, placement=placement,
        attention_stages=attention_stages, zero_init_residual=zero_init_residual, seed=seed,
    )  # fmt: skip
    started = time.perf_counter()
    history = fit(
        network, data, config, checkpoint=checkpoint, resume=resume, progress=progress, budget=chosen
    )
    return {
        "dataset": dataset,
        "model": model or f"resnet{chosen.depth}",
        "width": chosen.width,
        "attention": attention or "none",
        "se_options": se_options,
        "placement": placement,
        "attention_stages": list(attention_stages) if attention_stages is not None else None,
        "zero_init_residual": zero_init_residual,
        "parameters": count_parameters(network),
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
