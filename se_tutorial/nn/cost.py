"""What a model costs: parameters, FLOPs, and the SE paper's closed forms.

FLOPs are counted by PyTorch's own ``torch.utils.flop_counter``, which counts
matrix multiplications and convolutions (one multiply-add = 2 FLOPs) and
ignores element-wise work. That is why SE looks almost free in FLOPs yet
costs noticeable GPU time: its pooling and scaling are element-wise passes
over the whole feature map, which the counter does not see
(:func:`se_block_cost` lists them separately).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..utils import checks
from .fused import cpu_kernel
from .se_block import SEBlock, reduced_channels


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, example_input: torch.Tensor | Sequence[int]) -> int:
    """FLOPs of one forward pass on ``example_input`` (a tensor or a shape).

    The model runs in eval mode without gradients, so batch-norm statistics
    are left untouched; its training flag is restored afterwards. A model
    whose SE tails are fused counts as its readable twin does.
    """
    if not isinstance(example_input, torch.Tensor):
        shape = [checks.positive_int("example_input shape", int(d)) for d in example_input]
        parameter = next(model.parameters(), None)
        example_input = torch.zeros(
            shape,
            device=parameter.device if parameter is not None else None,
            dtype=parameter.dtype if parameter is not None else None,
        )
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        # The compiled SE kernel multiplies in C, out of the counter's sight: count a fused
        # model's SE tails as the PyTorch operations that compute the same.
        with torch.no_grad(), cpu_kernel.disabled(), counter:
            model(example_input)
    finally:
        model.train(was_training)
    return counter.get_total_flops()


def se_extra_parameters(
    stage_depths: Sequence[int], stage_channels: Sequence[int], reduction_ratio: int
) -> float:
    """The SENet paper's count of parameters SE adds: ``2/r * sum_s N_s * C_s**2``.

    ``N_s`` is the number of blocks in stage ``s`` and ``C_s`` their output
    channels. Exact for bias-free SE blocks when ``r`` divides every ``C_s``;
    for ResNet-50 at ``r = 16`` it is 2,514,944.
    """
    reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
    if len(stage_depths) != len(stage_channels):
        raise ValueError(
            f"stage_depths and stage_channels must have equal length, "
            f"got {len(stage_depths)} and {len(stage_channels)}."
        )
    total = sum(
        checks.positive_int("stage_depths", n) * checks.positive_int("stage_channels", c) ** 2
        for n, c in zip(stage_depths, stage_channels, strict=True)
    )
    return 2 * total / reduction_ratio


@dataclass(frozen=True)
class SEBlockCost:
    """Cost of one SE block on a ``(C, H, W)`` feature map, per sample."""

    channels: int
    reduction_ratio: int
    hidden_channels: int
    parameters: int  #: weights of W1 and W2 (no biases)
    excitation_flops: int  #: the two matrix products, 2 FLOPs per multiply-add
    squeeze_ops: int  #: additions of global average pooling, ``C * H * W``
    scale_ops: int  #: multiplications of the scale step, ``C * H * W``

    def describe(self) -> str:
        """The costs, one per line, the parameters beside the paper's ``2 C^2 / r``.

        >>> print(se_block_cost(256, 16, 14, 14).describe())
        hidden units: 16
        parameters:   8,192 (2 C^2 / r = 8,192)
        FLOPs:        16,384 in the two layers
        element-wise: 50,176 adds + 50,176 mults
        """
        formula = 2 * self.channels**2 / self.reduction_ratio
        return "\n".join([
            f"hidden units: {self.hidden_channels}",
            f"parameters:   {self.parameters:,} (2 C^2 / r = {formula:,.0f})",
            f"FLOPs:        {self.excitation_flops:,} in the two layers",
            f"element-wise: {self.squeeze_ops:,} adds + {self.scale_ops:,} mults",
        ])  # fmt: skip


def se_block_cost(channels: int, reduction_ratio: int, height: int, width: int) -> SEBlockCost:
    """Closed-form cost of ``SEBlock(channels, reduction_ratio)`` on an ``H x W`` map."""
    hidden = reduced_channels(channels, reduction_ratio)
    area = checks.positive_int("height", height) * checks.positive_int("width", width)
    weights = 2 * channels * hidden
    return SEBlockCost(
        channels=channels,
        reduction_ratio=reduction_ratio,
        hidden_channels=hidden,
        parameters=weights,
        excitation_flops=2 * weights,
        squeeze_ops=channels * area,
        scale_ops=channels * area,
    )


@dataclass(frozen=True)
class SEOverhead:
    """What every SE block of a network adds to one forward pass, per sample.

    Counted in multiply-adds for the two matrix products (the unit of the
    SENet paper's "GFLOPs") and in single operations for the element-wise
    passes over the feature maps, which FLOP counters of matrix products omit.
    """

    blocks: int
    excitation_macs: int  #: ``sum C * C'`` twice per block: the two bottleneck layers
    squeeze_adds: int  #: ``sum C * H * W``: global average pooling reads every value
    scale_mults: int  #: ``sum C * H * W``: the scale step multiplies every value

    @property
    def elementwise_ops(self) -> int:
        return self.squeeze_adds + self.scale_mults

    def describe(self, base_macs: float) -> str:
        """SE's share of a network of ``base_macs`` multiply-adds, counted without and with the passes.

        The last two lines give the network's total in G, as the SENet paper
        rounds it (to two decimals) and unrounded.
        """
        layers, passes = self.excitation_macs, self.excitation_macs + self.elementwise_ops
        lines = [
            f"{self.blocks} SE blocks",
            f"two layers only:       {layers / 1e6:6.2f} M = {layers / base_macs:.3%}",
            f"plus squeeze + scale:  {passes / 1e6:6.2f} M = {passes / base_macs:.3%}",
        ]
        for name, added in (("layers only", layers), ("with passes", passes)):
            total = (base_macs + added) / 1e9
            lines.append(f"with SE, {name}: {total:.4f} G, rounded {total:.2f} G")
        return "\n".join(lines)


def se_overhead(model: nn.Module, example_input: torch.Tensor | Sequence[int]) -> SEOverhead:
    """Count what the :class:`SEBlock` modules of ``model`` compute on one input (batch 1).

    Hooks record the shape each SE block sees; the model runs once in eval
    mode without gradients (its mode is restored).
    """
    if not isinstance(example_input, torch.Tensor):
        example_input = torch.zeros(tuple(example_input))
    seen: list[tuple[SEBlock, tuple[int, ...]]] = []
    handles = [
        module.register_forward_pre_hook(lambda m, args: seen.append((m, tuple(args[0].shape[1:]))))
        for module in model.modules()
        if isinstance(module, SEBlock)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example_input[:1])
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    area = [c * h * w for _, (c, h, w) in seen]
    return SEOverhead(
        blocks=len(seen),
        excitation_macs=sum(2 * block.channels * block.hidden_channels for block, _ in seen),
        squeeze_adds=sum(area),
        scale_mults=sum(area),
    )


def layer_table(model: nn.Module, example_input: torch.Tensor) -> list[dict]:
    """One row per direct submodule that runs: its name, type, output shape and parameters.

    The model runs once in eval mode without gradients (its mode is restored).
    """
    rows: list[dict] = []
    handles = [
        module.register_forward_hook(
            lambda module, _inputs, output, name=name: rows.append(
                {
                    "name": name,
                    "type": type(module).__name__,
                    "output_shape": tuple(output.shape),
                    "parameters": count_parameters(module),
                }
            )
        )
        for name, module in model.named_children()
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example_input)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows
