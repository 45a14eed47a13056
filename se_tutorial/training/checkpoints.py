"""Checkpoints: written atomically, loaded safely, refused when they belong to another run.

A checkpoint is never overwritten by accident: a run that would write over an
existing one must be told to resume from it (see :func:`check_checkpoint_path`).
"""

from __future__ import annotations

import io
import pickle
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from ..utils.errors import ConfigurationError, SETutorialError
from ..utils.files import atomic_write, check_writable

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
    if path.is_file() and not resume:
        raise CheckpointExistsError(
            f"the checkpoint {path} already exists, and starting afresh would overwrite it. Either "
            f"continue that run ({resume_hint}), or remove the file or choose another checkpoint path "
            "to start a new one."
        )


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` into a temporary file, then rename: never a half-written checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda file: file.write(buffer.getbuffer()))


def _read(path: Path) -> dict:
    """The checkpoint's dictionary, or :class:`InvalidCheckpointError` saying why it is not one."""

    def invalid(reason: str) -> InvalidCheckpointError:
        return InvalidCheckpointError(
            f"{path} is not a checkpoint written by se_tutorial's fit: {reason}. Remove it, or choose "
            "another checkpoint path to start afresh (an older run's checkpoint may be elsewhere)."
        )

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before failing; we say it once
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not zipfile.is_zipfile(path):  # torch.save writes zip archives; anything else is damaged
            raise invalid("it is damaged or in an unknown format") from None
        # torch's own message advises weights_only=False, which would run the file's code: not ours.
        raise invalid(
            "it holds Python objects other than tensors and plain values, which a safe load refuses"
        ) from None
    except (
        EOFError,
        RuntimeError,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        IndexError,
        UnicodeDecodeError,
    ) as error:
        reason = (
            "it is empty"
            if path.stat().st_size == 0
            else f"it is truncated or damaged ({type(error).__name__})"
        )
        raise invalid(reason) from None
    if not isinstance(state, dict):
        raise invalid(f"it holds a {type(state).__name__}, not a dictionary")
    missing = sorted(CHECKPOINT_KEYS - set(state))
    if missing:
        looks_like_weights = all(isinstance(value, torch.Tensor) for value in state.values())
        raise invalid(
            "it holds only a model's state_dict (weights), without the optimizer, schedule and history "
            "a resume needs; load weights with model.load_state_dict(torch.load(path))"
            if looks_like_weights and state
            else f"it lacks the entries {missing}"
        )
    return state


def _training_config(config: dict) -> dict:
    return {key: value for key, value in config.items() if key not in EVALUATION_ONLY}


def load_checkpoint(path: str | Path, model: nn.Module, config: dict) -> dict:
    """Load a checkpoint written by ``fit`` (``weights_only``), after checking it belongs to this run."""
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
    ours, theirs = _training_config(config), _training_config(state.get("config") or {})
    if theirs != ours:
        changed = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        raise CheckpointMismatchError(
            f"{path} was written with a different training configuration (changed: {changed}); "
            "resume with the same settings, or delete the checkpoint to start afresh."
        )
    broken = [
        name
        for name, tensor in state["model"].items()
        if torch.is_floating_point(tensor) and not torch.isfinite(tensor).all()
    ]
    if broken:
        raise InvalidCheckpointError(
            f"{path} holds non-finite values in {len(broken)} tensors (first: {broken[:3]}): the run that "
            "wrote it had diverged. Remove it and train again with a lower learning rate."
        )
    return state
