"""Checkpoints: written atomically, loaded safely, refused when they belong to another run."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from .files import atomic_write


class CheckpointMismatchError(ValueError):
    """A checkpoint belongs to another model or another training configuration."""


def architecture(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what a checkpoint must match."""
    return {name: list(tensor.shape) for name, tensor in model.state_dict().items()}


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` into a temporary file, then rename: never a half-written checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda file: file.write(buffer.getbuffer()))


def load_checkpoint(path: str | Path, model: nn.Module, config: dict) -> dict:
    """Load a checkpoint written by ``fit`` (``weights_only``), after checking it belongs to this run."""
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
