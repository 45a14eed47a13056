"""Checkpoints: written atomically, loaded safely, refused when they belong to another run.

A checkpoint is never overwritten by accident: a run that would write over an
existing one must be told to resume from it (see :func:`check_checkpoint_path`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ..utils.errors import ConfigurationError, SETutorialError
from ..utils.files import atomic_write, check_writable, claim
from ..utils.saved import load_saved
from .distributed import world

#: Configuration fields that change only how a model is evaluated, not how it is
#: trained: a resume may change them (e.g. add flip test-time augmentation).
EVALUATION_ONLY = frozenset({"tta"})
#: The keys ``fit`` writes; a file without them is not one of its checkpoints.
CHECKPOINT_KEYS = frozenset({"architecture", "config", "epoch", "model", "optimizer", "scheduler", "history"})


class CheckpointMismatchError(SETutorialError, ValueError):
    """A checkpoint belongs to another model or another training configuration."""


class InvalidCheckpointError(SETutorialError, ValueError):
    """A file is not a readable checkpoint written by ``fit``."""


class CheckpointExistsError(SETutorialError, FileExistsError):
    """A run would overwrite an existing checkpoint without being told to resume from it."""


class CheckpointInUseError(SETutorialError, FileExistsError):
    """Another running process trains into the same checkpoint file."""


class CheckpointWriteError(SETutorialError, OSError):
    """A checkpoint could not be written (a full disk, a folder that became read-only)."""


@contextmanager
def holding(path: Path | None) -> Iterator[None]:
    """Hold the claim on the checkpoint ``path`` while a run trains into it (rank 0 holds it for all ranks)."""
    if path is None or world()[0] != 0:
        yield
        return
    with claim(lock_path(path)) as ours:
        if not ours:
            raise checkpoint_in_use(path)
        yield


def lock_path(path: Path) -> Path:
    """The lock file beside a checkpoint by which one run at a time claims it."""
    return path.parent / f".{path.name}.lock"


def checkpoint_in_use(path: Path) -> CheckpointInUseError:
    return CheckpointInUseError(
        f"another run is training into the checkpoint {path} right now (it holds {lock_path(path)}); "
        "wait for it to finish, or choose another checkpoint path."
    )


def architecture(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what a checkpoint must match."""
    return {name: list(tensor.shape) for name, tensor in model.state_dict().items()}


def check_checkpoint_path(path: str | Path | None, resume: bool, *, resume_hint: str = "resume=True") -> None:
    """Refuse before any work what would fail or destroy something later.

    ``resume`` needs a path; an existing checkpoint is only ever continued,
    never silently replaced; and the path must be writable. ``resume_hint``
    is how the caller spells resuming (``"--resume"`` on the command line).
    """
    if path is None:
        if resume:
            raise ConfigurationError(
                "resume needs a checkpoint to continue from, but none was given; "
                "pass the checkpoint path too (checkpoint=... / --checkpoint PATH)."
            )
        return
    path = Path(path)
    check_writable(path, "the checkpoint")
    if world()[0] == 0:  # rank 0 claims the file for every rank of a distributed run
        with claim(lock_path(path)) as free:
            if not free:
                raise checkpoint_in_use(path)
    if path.is_file() and not resume:
        raise CheckpointExistsError(
            f"the checkpoint {path} already exists, and starting afresh would overwrite it. Either "
            f"continue that run ({resume_hint}), or remove the file or choose another checkpoint path "
            "to start a new one."
        )


def save_checkpoint(path: str | Path, state: dict, kept: str = "") -> None:
    """``torch.save`` into a temporary file, then rename: never a half-written checkpoint.

    A failed write (a full disk) leaves the previous file as it was and raises
    :class:`CheckpointWriteError`, whose message ends with ``kept``: what that file holds.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        atomic_write(path, lambda file: file.write(buffer.getbuffer()))
    except OSError as error:
        raise CheckpointWriteError(
            f"could not write the checkpoint of epoch {state.get('epoch')} to {path} "
            f"({error.strerror or error}). {kept}".rstrip()
        ) from None


def _read(path: Path) -> dict:
    """The checkpoint's dictionary, or :class:`InvalidCheckpointError` saying why it is not one."""

    def invalid(reason: str) -> InvalidCheckpointError:
        return InvalidCheckpointError(
            f"{path} is not a checkpoint written by se_tutorial's fit: {reason}. Remove it, or choose "
            "another checkpoint path to start afresh (an older run's checkpoint may be elsewhere)."
        )

    return load_saved(
        path, CHECKPOINT_KEYS, invalid,
        weights_hint="it holds only a model's state_dict (weights), without the optimizer, schedule and "
        "history a resume needs; load weights with model.load_state_dict(torch.load(path))",
    )  # fmt: skip


def _training_config(config: dict) -> dict:
    return {key: value for key, value in config.items() if key not in EVALUATION_ONLY}


def load_checkpoint(
    path: str | Path, model: nn.Module, config: dict, optimizer: torch.optim.Optimizer | None = None
) -> dict:
    """Load a checkpoint written by ``fit`` (``weights_only``), after checking everything it holds.

    It must belong to this run (the model's names and shapes, the training
    configuration) and be whole: an epoch within the run, a history of that
    many epochs, a schedule at that epoch's step, an optimizer state with
    ``optimizer``'s parameter groups, and finite weights and momentum buffers.
    """
    path = Path(path)
    state = _read(path)
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
    _check_config(path, config, state.get("config"))
    broken = _non_finite(state["model"]) if isinstance(state["model"], dict) else []
    if broken:
        raise InvalidCheckpointError(
            f"{path} holds non-finite values in {len(broken)} tensors (first: {broken[:3]}): the run that "
            "wrote it had diverged. Remove it and train again with a lower learning rate."
        )
    problem = _whole_state_problem(state, config, optimizer)
    if problem:
        raise InvalidCheckpointError(
            f"{path} is damaged or was edited: {problem}. Remove it (or choose another checkpoint "
            "path) to start afresh."
        )
    buffers = _non_finite(
        {f"{index}.{name}": value for index, entry in state["optimizer"]["state"].items()
         for name, value in entry.items() if isinstance(value, torch.Tensor)}
    )  # fmt: skip
    if buffers:
        raise InvalidCheckpointError(
            f"{path} holds non-finite values in the optimizer's state ({len(buffers)} tensors, first: "
            f"{buffers[:3]}), which no healthy epoch leaves behind: the file is damaged. Remove it and "
            "start afresh."
        )
    return state


def _check_config(path: Path, config: dict, saved: object) -> None:
    """The training configuration must be this run's; a different set of keys means another version."""
    theirs = _training_config(saved if isinstance(saved, dict) else {})
    ours = _training_config(config)
    if theirs.keys() != ours.keys():
        extra, missing = sorted(theirs.keys() - ours.keys()), sorted(ours.keys() - theirs.keys())
        raise CheckpointMismatchError(
            f"{path} was written by another version of se_tutorial (its training configuration "
            f"{'has ' + str(extra) if extra else 'lacks ' + str(missing)}, which this version's "
            f"{'lacks' if extra else 'has'}); it cannot be resumed here. Delete it to start afresh, "
            "or resume with the version that wrote it."
        )
    changed = sorted(k for k in ours if ours[k] != theirs[k])
    if changed:
        raise CheckpointMismatchError(
            f"{path} was written with a different training configuration (changed: {changed}); "
            "resume with the same settings, or delete the checkpoint to start afresh."
        )


def _whole_state_problem(state: dict, config: dict, optimizer: torch.optim.Optimizer | None) -> str | None:
    """What in a checkpoint's bookkeeping contradicts itself or this run, or ``None``."""
    epoch, epochs = state["epoch"], config.get("epochs")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= (epochs or epoch):
        return f"it says it holds epoch {epoch!r}, but a run of {epochs} epochs saves epochs 1 to {epochs}"
    history = state["history"]
    if not isinstance(history, list) or len(history) != epoch:
        return f"its history is {_described(history)}, not the {epoch} epochs it says it holds"
    if any(not isinstance(row, dict) or row.get("epoch") != number for number, row in enumerate(history, 1)):
        return "its history's rows are not epochs 1, 2, ... in order"
    if not isinstance(state["model"], dict) or not all(
        isinstance(t, torch.Tensor) for t in state["model"].values()
    ):
        return "its weights are not a state_dict of tensors"
    scheduler = state["scheduler"]
    steps = config.get("steps_per_epoch")
    if not isinstance(scheduler, dict) or "last_epoch" not in scheduler:
        return "its learning-rate schedule's state is missing (resuming would restart the warm-up)"
    if steps is not None and scheduler["last_epoch"] != epoch * steps:
        return (
            f"its learning-rate schedule stands at step {scheduler['last_epoch']}, but epoch {epoch} "
            f"ends at step {epoch * steps}"
        )
    saved = state["optimizer"]
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list):
        return "its optimizer state is not one an optimizer wrote"
    if not isinstance(saved.get("state"), dict) or not all(
        isinstance(v, dict) for v in saved["state"].values()
    ):
        return "its optimizer state is not one an optimizer wrote"
    if optimizer is not None:
        ours = [len(group["params"]) for group in optimizer.param_groups]
        theirs = [len(group.get("params", [])) for group in saved["param_groups"]]
        if ours != theirs:
            return f"its optimizer has parameter groups of {theirs} tensors, this run's of {ours}"
    return None


def _described(value: object) -> str:
    return f"{len(value)} rows" if isinstance(value, list) else f"a {type(value).__name__}, {value!r:.30}"


def _non_finite(tensors: dict) -> list[str]:
    return [
        name for name, tensor in tensors.items()
        if isinstance(tensor, torch.Tensor) and torch.is_floating_point(tensor) and not torch.isfinite(tensor).all()
    ]  # fmt: skip
