"""Mixed precision: which dtype autocast uses on which device, and why.

GPUs with native bfloat16 (compute capability 8.0 and up: A100, H100, RTX 30xx
and later) run the forward pass in bfloat16, which has float32's range, so the
gradients need no scaling. Older GPUs (Colab's T4 is 7.5, a V100 7.0) have fast
float16 but no bfloat16; float16 underflows small gradients, so training there
multiplies the loss by a running scale and unscales before the step
(``torch.amp.GradScaler``), skipping the steps whose gradients overflowed.

CPUs train in float32. On a CPU with bfloat16 instructions (AVX512-BF16 or
AMX, read from the CPU by :func:`~se_tutorial.utils.provenance.cpu_bfloat16`,
not assumed), ``TrainConfig(precision="bfloat16")`` is an option: it makes the
`full` network's step 1.8 times as fast, but the `brief` network's hardly at
all, and over three seeds of the `brief` budget it ended about 0.1 points below
float32 (``benchmarks/results/cpu_precision.json``, and the bfloat16 rows of
``cpu_levers.json`` and ``cpu_se_overhead.json`` as measured at commits
667d4cb and fcc4066 on an Intel Xeon, which has the instructions), so it is
not the default.

>>> print(choose_precision("cpu", "float32"))
float32 (autocast off): float32 was asked for.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..utils.provenance import cpu_bfloat16

#: Compute capability from which NVIDIA GPUs have native bfloat16 (Ampere).
BF16_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class Precision:
    """The autocast dtype for one device (``None``: autocast off) and whether to scale the loss."""

    device_type: str
    dtype: torch.dtype | None
    grad_scaling: bool
    reason: str

    @property
    def name(self) -> str:
        """``"bfloat16"``, ``"float16"`` or ``"float32"``."""
        return str(self.dtype or torch.float32).removeprefix("torch.")

    def autocast(self) -> torch.autocast:
        """The autocast context: ``with precision.autocast(): loss = ...``."""
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A loss scaler; disabled (every call a no-op) unless the dtype needs it."""
        return torch.amp.GradScaler(self.device_type, enabled=self.grad_scaling)

    def __str__(self) -> str:
        scaling = ", with loss scaling" if self.grad_scaling else ""
        state = "autocast" if self.dtype is not None else "autocast off"
        return f"{self.name} ({state}{scaling}): {self.reason}"


def choose_precision(device: torch.device | str, requested: str = "auto") -> Precision:
    """The precision to train and evaluate in on ``device``, with the reason (``print`` it).

    ``requested`` is ``"auto"`` (the rules above), ``"float32"`` (autocast
    off) or ``"bfloat16"``.
    """
    device = torch.device(device)
    if requested == "float32":
        return Precision(device.type, None, False, "float32 was asked for.")
    if requested == "bfloat16":
        return Precision(device.type, torch.bfloat16, False, "bfloat16 was asked for.")
    if device.type != "cuda":
        return _cpu_precision(device)
    capability = torch.cuda.get_device_capability(device)
    gpu = f"{torch.cuda.get_device_name(device)} (compute capability {capability[0]}.{capability[1]})"
    if capability >= BF16_CAPABILITY:
        return Precision("cuda", torch.bfloat16, False, f"{gpu} computes in bfloat16 natively.")
    return Precision(
        "cuda",
        torch.float16,
        True,
        f"{gpu} has no native bfloat16, so float16, whose small gradients need loss scaling.",
    )


def _cpu_precision(device: torch.device) -> Precision:
    # Whether precision="bfloat16" is a real option here (printed, so the page says it).
    has = "yes" if device.type == "cpu" and cpu_bfloat16() else "none"
    return Precision(
        device.type, None, False, f"a {device.type.upper()}'s default; bfloat16 instructions: {has}"
    )


@contextmanager
def skipped_steps_expected(scaler: torch.amp.GradScaler) -> Iterator[None]:
    """Around ``scheduler.step()``: with loss scaling, a first update that the scaler skipped is expected.

    The scale starts high and halves at each overflow, so a float16 run may skip
    its first update; PyTorch would then warn that the schedule stepped before
    the optimizer. The schedule counts skipped steps on purpose, so it still ends
    with the last epoch; other warnings pass.
    """
    if not scaler.is_enabled():
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
        yield
