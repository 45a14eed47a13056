"""Argument checks that turn bad input into one clear sentence.

Every public constructor in the package validates its arguments here, so a
reader who passes ``channels=0`` or ``gate="sigmod"`` gets a message that
names the argument, what was expected and what was given, instead of a stack
trace from deep inside ``nn.Linear``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable

import torch

#: Seeds feed ``torch.manual_seed`` and the loaders' per-epoch generators; this
#: range keeps every derived seed valid (and matches NumPy's legacy seeds).
SEED_RANGE = (0, 2**32 - 1)


def whole_number(name: str, value: object) -> int:
    """``value`` as a Python ``int``: an ``int``, a NumPy integer or a 0-d integer tensor.

    bool is rejected although it is an ``int``: ``channels=True`` is always a mistake.
    """
    is_bool = type(value).__name__ in ("bool", "bool_")  # Python's and NumPy's
    is_tensor = isinstance(value, torch.Tensor)
    if not is_bool and not (is_tensor and (value.dim() != 0 or value.dtype == torch.bool)):
        try:
            return operator.index(value)  # int, numpy.int64, a 0-d integer tensor; never a float
        except TypeError:
            pass
    raise TypeError(
        f"{name} must be a positive integer, got {value!r} "
        f"({type(value).__name__}); pass a whole number such as 64."
    )


def positive_int(name: str, value: object) -> int:
    """``value`` as an ``int`` if it is a whole number >= 1, else a clear error."""
    number = whole_number(name, value)
    if number < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {number}.")
    return number


def odd_int(name: str, value: object) -> int:
    """``value`` as an ``int`` if it is a positive odd number: a centred window has a middle element."""
    number = positive_int(name, value)
    if number % 2 == 0:
        raise ValueError(
            f"{name} must be odd so that the window is centred on each position, "
            f"got {number}; use {number - 1} or {number + 1}."
        )
    return number


def positive_finite(name: str, value: object) -> float:
    """``value`` if it is a real number > 0 and finite (not NaN or infinity), else a clear error."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (value > 0 and math.isfinite(value))
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    return value


#: The largest float32: weights are kept in float32, so a learning rate beyond it overflows every update.
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def learning_rate(name: str, value: object) -> float:
    """``value`` if it is a positive finite number that float32 weights can be updated with."""
    value = positive_finite(name, value)
    if value > FLOAT32_MAX:
        raise ValueError(
            f"{name} must be at most {FLOAT32_MAX:.3g} (float32's largest number, the precision of the "
            f"weights), got {value!r}."
        )
    return value


def seed(name: str, value: object) -> int:
    """``value`` as an ``int`` if it is a whole number in :data:`SEED_RANGE`, else a clear error."""
    low, high = SEED_RANGE
    try:
        number = whole_number(name, value)
    except TypeError:
        number = None
    if number is None or not low <= number <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")
    return number


def choice(name: str, value: object, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise a clear error."""
    options = list(options)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"unknown {name} {value!r}; choose one of {listed}.")
    return value  # type: ignore[return-value]


def feature_map(x: object, channels: int, where: str, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Check that ``x`` is a ``(batch, channels, height, width)`` float tensor fit for the module.

    ``weight`` is one of the module's parameters: outside autocast, ``x`` must
    have its dtype. Inside ``torch.autocast`` a float32 module legitimately
    receives the bfloat16 or float16 output of an earlier layer, so any float
    dtype passes there.
    """
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
    if not x.is_floating_point():
        raise TypeError(
            f"{where} expects a floating-point input, got {x.dtype}; convert it, e.g. x.float() "
            "(and scale uint8 images to [0, 1] with x.float() / 255)."
        )
    if weight is not None and x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"{where}'s parameters are {weight.dtype} but the input is {x.dtype}; cast the module "
            f"(module.to({x.dtype})) or the input (x.to({weight.dtype})), "
            "or run it under torch.autocast."
        )
    return x
