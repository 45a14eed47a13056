"""One training run, from a model specification to a results row: what the command line and sweeps call.

``run({"attention": "se"}, budget="brief", seed=0)`` loads the data, builds
the budget's network with SE, trains it with :func:`~se_tutorial.training.fit`
and returns a JSON-ready row: the model's specification field by field, the
training settings, the final metrics, the per-epoch history and provenance.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import torch

from ..nn.cost import count_parameters
from ..nn.models import ModelSpec
from ..training import Budget, TrainConfig, default_device, fit, prepare_data, resolve_budget
from ..training.checkpoints import check_checkpoint_path
from ..training.distributed import world
from ..utils.errors import ConfigurationError
from ..utils.provenance import provenance


def resolve_model(model: ModelSpec | Mapping[str, object] | None, budget: Budget, seed: int) -> ModelSpec:
    """The network a run trains: ``model`` itself, or the budget's network with ``model``'s fields.

    The run's ``seed`` seeds the network's initialisation too; a spec that
    names another seed is a contradiction.

    >>> from se_tutorial.training import BUDGETS
    >>> resolve_model({"attention": "se"}, BUDGETS["brief"], seed=3).to_row()["seed"]
    3
    """
    if model is None or isinstance(model, Mapping):
        fields = dict(model or {})
        if fields.get("seed", seed) != seed:
            raise ConfigurationError(f"the model's seed {fields['seed']} is not the run's seed {seed}.")
        return budget.model(**{**fields, "seed": seed})
    if not isinstance(model, ModelSpec):
        raise TypeError(
            f"model must be a ModelSpec, a dict of its fields or None, got {type(model).__name__}."
        )
    if model.seed not in (None, seed):
        raise ConfigurationError(
            f"the model's seed {model.seed} is not the run's seed {seed}; pass seed={model.seed} "
            "or build the spec without a seed."
        )
    return model.replace(seed=seed)


def run(
    model: ModelSpec | Mapping[str, object] | None = None,
    *,
    dataset: str = "fashion-mnist",
    budget: str | None = None,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    compile: bool = False,
    tta: bool = False,
    precision: str = "auto",
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train one model and return its results row (with provenance).

    ``model`` is a :class:`ModelSpec`, or a dict of fields that change the
    budget's network (``{"attention": "se", "placement": "pre"}``), or
    ``None`` for the budget's plain network. ``epochs`` and ``lr`` default to
    the budget's (``None``); ``precision`` is ``"auto"``, ``"float32"`` or
    ``"bfloat16"`` (the row records the dtype used). Every argument, and the
    checkpoint path, is checked before any data is loaded.
    """
    rank, world_size = world()
    if world_size > 1 and torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    else:
        device = default_device()
    chosen = resolve_budget(budget, device)
    spec = resolve_model(model, chosen, seed)
    config = TrainConfig(
        epochs=chosen.epochs if epochs is None else epochs, lr=chosen.lr if lr is None else lr,
        compile=compile, tta=tta, seed=seed, precision=precision,
    )  # fmt: skip
    check_checkpoint_path(checkpoint, resume)
    data = prepare_data(dataset, budget=chosen, device=device, seed=seed, rank=rank, world_size=world_size)
    network = spec.build(in_channels=data.in_channels, num_classes=len(data.classes))
    started = time.perf_counter()
    history = fit(
        network, data, config, checkpoint=checkpoint, resume=resume, progress=progress, budget=chosen
    )
    return {
        "dataset": dataset,
        **spec.to_row(),
        "parameters": count_parameters(network),
        "budget": chosen.name,
        "epochs": config.epochs,
        "lr": config.lr,
        "tta": config.tta,
        "compile": config.compile,
        "precision": history.meta["precision"],
        "world_size": world_size,
        "test_accuracy": history.rows[-1]["test_accuracy"],
        "test_loss": history.rows[-1]["test_loss"],
        "best_test_accuracy": max(row["test_accuracy"] for row in history.rows),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "data_source": data.source,
        "history": history.rows,
        **provenance(device),
    }
