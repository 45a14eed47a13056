"""Fusing a model's SE blocks: the same blocks and weights, fewer passes over memory.

At the standard placement a residual block ends, in its :meth:`join` hook, with::

    s = se.excite(se.squeeze(out))            # (N, C): reads the map once, then tiny
    out = relu(out * s[:, :, None, None] + identity)

Eagerly that is a reduction and three elementwise kernels (multiply, add,
ReLU) whose every input and output is a full feature map, and a backward that
passes over the map about as often again. :func:`fuse_se` replaces that one
hook of each such block with :class:`FusedSETail`, which computes the same
through the two operators of :mod:`.ops`. The excitation in between runs
through the SE block's own :meth:`~se_tutorial.nn.SEBlock.excite`, so
parameters, ``state_dict`` names and
:func:`~se_tutorial.nn.capture_excitations` (a hook on ``gate``) are unchanged::

    model = fuse_se(se_resnet50())  # "auto": fused in eager mode (Triton on CUDA, .cpu on CPUs)
"""

from __future__ import annotations

import torch
from torch import nn

from ..blocks import ResidualBlock
from ..se_block import SEBlock
from . import cpu
from .ops import scale_add_relu, squeeze, triton_available

#: What :func:`fuse_se` accepts: fused always, never, or where it helps.
MODES = (True, False, "auto")


def excitation(se: SEBlock, x: torch.Tensor, *, fused: bool = True) -> torch.Tensor:
    """``se.excitation(x)``, with the average squeeze as the fused operator when ``fused``."""
    if not fused or se.squeeze_name != "avg" or x.shape[1] != se.channels:
        return se.excitation(x)  # (a wrong channel count: the readable path explains the mistake)
    z = squeeze(x).to(x.dtype)  # as global_average_pool: float32 sum, the map's dtype
    return se.excite(z)


def se_residual(
    se: SEBlock, out: torch.Tensor, identity: torch.Tensor, *, fused: bool = True
) -> torch.Tensor:
    """The tail of a residual block at the standard placement: ``relu(se(out) + identity)``.

    ``fused=False`` is the readable computation, for comparison.
    """
    s = excitation(se, out, fused=fused)
    if not fused:
        return torch.relu(out * s[:, :, None, None] + identity)
    return scale_add_relu(out, s, identity)


def use_fused(mode: bool | str, x: torch.Tensor) -> bool:
    """Whether a block in ``mode`` takes a fused path for input ``x``.

    ``"auto"`` fuses in eager mode only: CUDA tensors when Triton is installed,
    and CPU tensors (through :mod:`.cpu`). Under ``torch.compile`` the readable
    path lets the compiler fuse the SE tail with its neighbours (the opaque
    custom operators would stop it).
    """
    if mode == "auto":
        if torch.compiler.is_compiling():
            return False
        return x.device.type == "cpu" or (x.is_cuda and triton_available())
    return bool(mode)


class FusedSETail:
    """A fused block's :meth:`~se_tutorial.nn.blocks.ResidualBlock.join`: ``relu(se(out) + identity)`` fused.

    Where ``mode`` says not to fuse (``"auto"`` under ``torch.compile``, or on a
    CPU for an SE block :func:`.cpu.supported` turns down), the block's own
    readable ``join`` runs. A plain object (not a module), so ``state_dict``
    and parameter names do not change; it pickles with the model.
    """

    def __init__(self, block: ResidualBlock, mode: bool | str) -> None:
        self.block, self.mode = block, mode

    def __call__(self, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        # torch.fx traces the readable tail: the same computation, as ops a graph can hold.
        if isinstance(out, torch.fx.Proxy) or not use_fused(self.mode, out):
            return type(self.block).join(self.block, out, identity)
        se = self.block.attention
        if self.mode == "auto" and out.device.type == "cpu":
            # CPUs: the one-function tail, where the block is the paper's SE and nothing hooks it.
            # (This runs for every block at every step, so the cheap tests come first.)
            if out.shape[1] == se.channels and cpu.supported(se):
                return cpu.se_residual_cpu(se, out, identity)
            return type(self.block).join(self.block, out, identity)
        return se_residual(se, out, identity)

    def __repr__(self) -> str:
        return f"FusedSETail(mode={self.mode!r})"


def fusable(module: nn.Module) -> bool:
    """A residual block with an :class:`SEBlock` at the standard placement."""
    return (
        isinstance(module, ResidualBlock)
        and module.placement == "standard"
        and isinstance(module.attention, SEBlock)
    )


def fusion_mode(block: nn.Module) -> bool | str:
    """The mode ``block`` was fused with, or ``False`` if it runs its readable ``join``."""
    tail = vars(block).get("join")
    return tail.mode if isinstance(tail, FusedSETail) else False


def fuse_se(model: nn.Module, mode: bool | str = "auto") -> nn.Module:
    """Give every fusable block of ``model`` the fused SE tail, in place; returns ``model``.

    ``mode`` is ``"auto"`` (in eager mode: the Triton kernels for CUDA tensors,
    :mod:`.cpu`'s one-function tail for CPU tensors, compiled where it can be; readable under
    ``torch.compile`` and ``torch.fx``), ``True`` (always the fused operators: on a CPU their reference
    implementation, or Triton's interpreter with ``TRITON_INTERPRET=1``) or
    ``False`` (back to the readable blocks). Only each block's ``join`` changes;
    parameters, buffers and their names stay as they are, so checkpoints load either way.

    >>> from se_tutorial import cifar_resnet
    >>> model = fuse_se(cifar_resnet(8, attention="se"))
    >>> model.layer1[0].join, fusion_mode(model.layer1[0])
    (FusedSETail(mode='auto'), 'auto')
    """
    if mode not in MODES or not isinstance(mode, bool | str):
        raise ValueError(f"mode must be True, False or 'auto', got {mode!r}.")
    for module in model.modules():
        if not fusable(module):
            continue
        if mode is False:
            vars(module).pop("join", None)  # the class's readable join shows through again
        else:
            module.join = FusedSETail(module, mode)
    return model
