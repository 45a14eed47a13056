"""Effective Squeeze-and-Excitation (eSE): SE with one full-width layer.

Lee and Park, "CenterMask: Real-Time Anchor-Free Instance Segmentation", CVPR 2020
(the eSE module of its VoVNetV2 backbone). SE's bottleneck ``C -> C/r -> C`` loses
channel information; eSE keeps a single ``C -> C`` layer. For ``x`` of shape
``(N, C, H, W)``:

* squeeze:    ``z_c = 1/(H W) * sum_ij x_c(i, j)``           -> ``(N, C)``
* excitation: ``s = hard_sigmoid(W z + b)``, ``W`` is ``C x C`` -> ``(N, C)``
* scale:      ``out_c = s_c * x_c``                          -> ``(N, C, H, W)``

where ``hard_sigmoid(t) = relu6(t + 3) / 6``. timm's ``EffectiveSEModule`` computes
the same; its 1x1 convolution on the pooled ``(N, C, 1, 1)`` map is this ``Linear``.
"""

from __future__ import annotations

import torch
from torch import nn

from ...utils import checks
from ..se_block import GATES


class EffectiveSE(nn.Module):
    """Effective SE: ``x * hard_sigmoid(W mean(x) + b)``.

    Args:
        channels: ``C``, the number of input (and output) channels.
        gate: the excitation's non-linearity, one of :data:`~se_tutorial.nn.se_block.GATES`
            (the paper's is ``"hard_sigmoid"``).
        bias: give the ``C x C`` layer a bias (the paper's and timm's layer has one).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, *, gate: str = "hard_sigmoid", bias: bool = True) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.gate_name = checks.choice("gate", gate, GATES)
        self.fc = nn.Linear(channels, channels, bias=bias)  # W: C -> C, no bottleneck
        self.gate = GATES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "EffectiveSE", self.fc.weight)
        z = x.mean(dim=(2, 3))  # squeeze: (N, C)
        s = self.gate(self.fc(z))  # excitation: (N, C)
        return x * s[:, :, None, None]  # scale: broadcast over H and W

    def extra_repr(self) -> str:
        return f"channels={self.channels}, gate={self.gate_name!r}"
