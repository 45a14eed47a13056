"""Argument checks that turn bad input into one clear sentence.

Every public constructor in the package validates its arguments here, so a
reader who passes ``channels=0`` or ``gate="sigmod"`` gets a message that
names the argument, what was expected and what was given, instead of a stack
trace from deep inside ``nn.Linear``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 1, else raise a clear error."""
    # bool is a subclass of int, but ``channels=True`` is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be a positive integer, got {value!r} "
            f"({type(value).__name__}); pass a whole number such as 64."
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value}.")
    return value


def choice(name: str, value: object, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise a clear error."""
    options = list(options)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"unknown {name} {value!r}; choose one of {listed}.")
    return value  # type: ignore[return-value]


def feature_map(x: object, channels: int, where: str) -> torch.Tensor:
    """Check that ``x`` is a ``(batch, channels, height, width)`` tensor."""
    if isinstance(x, torch.fx.Proxy):  # torch.fx.symbolic_trace: no shapes to check yet
        return x
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where} expects a torch.Tensor, got {type(x).__name__}.")
    if x.dim() != 4:
        raise ValueError(
            f"{where} expects a 4-D input (batch, channels, height, width), "
            f"got shape {tuple(x.shape)}; add the missing dimensions, e.g. "
            f"x.unsqueeze(0) for a single image."
        )
    if x.shape[1] != channels:
        raise ValueError(
            f"{where} was built for {channels} channels but the input has "
            f"{x.shape[1]} (shape {tuple(x.shape)}); build it with "
            f"channels={x.shape[1]} or feed it the matching layer's output."
        )
    return x
