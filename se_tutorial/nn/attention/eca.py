"""Efficient Channel Attention (ECA): a 1-D convolution across the channel descriptor.

Wang, Wu, Zhu, Li, Zuo and Hu, "ECA-Net: Efficient Channel Attention for Deep
Convolutional Neural Networks", CVPR 2020. SE's two fully connected layers are
replaced by one 1-D convolution of size ``k`` over the pooled channels, so each
channel's weight depends on its ``k`` neighbours, with ``k`` weights in all. For
``x`` of shape ``(N, C, H, W)``:

* squeeze: ``y_c = 1/(H W) * sum_ij x_c(i, j)``    -> ``(N, C)``
* excite:  ``s = sigmoid(conv1d_k(y))``            -> ``(N, C)``
* scale:   ``out_c = s_c * x_c``                   -> ``(N, C, H, W)``

The kernel size grows with the channels, by the paper's rule
``k = |log2(C) / gamma + b / gamma|_odd`` with ``gamma = 2, b = 1``, where ``|t|_odd``
is the odd number nearest ``t``. timm's ``EcaModule`` uses the same rule but never
goes below ``k = 3``; here ``C < 8`` gives the paper's ``k = 1`` (see :func:`eca_kernel_size`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...utils import checks


def eca_kernel_size(channels: int, gamma: float = 2, b: float = 1) -> int:
    """The paper's adaptive kernel size ``|log2(C) / gamma + b / gamma|_odd``.

    Odd numbers are 2 apart, so the one nearest ``t`` is ``floor(t)`` when that is
    odd and ``floor(t) + 1`` when it is even (as the authors' code computes it).

    >>> [eca_kernel_size(c) for c in (4, 16, 64, 256, 2048)]
    [1, 3, 3, 5, 7]
    """
    channels = checks.positive_int("channels", channels)
    gamma = checks.positive_finite("gamma", gamma)
    if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b):
        raise ValueError(f"b must be a finite number, got {b!r}.")
    t = int(abs(math.log2(channels) / gamma + b / gamma))
    return t if t % 2 else t + 1


class EfficientChannelAttention(nn.Module):
    """ECA: ``x * sigmoid(conv1d_k(mean(x)))``, with ``k`` from the channels or given.

    Args:
        channels: ``C``, the number of input (and output) channels.
        kernel_size: ``k``, odd; ``None`` takes :func:`eca_kernel_size` of ``C``.
        gamma, b: the constants of the kernel-size rule (the paper's 2 and 1).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``. The module has ``k`` parameters.
    """

    def __init__(
        self, channels: int, *, kernel_size: int | None = None, gamma: float = 2, b: float = 1
    ) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        if kernel_size is None:
            kernel_size = eca_kernel_size(channels, gamma, b)
        self.kernel_size = kernel_size = checks.odd_int("kernel_size", kernel_size)
        # One filter slides along the channel axis; zero padding keeps C outputs.
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "EfficientChannelAttention", self.conv.weight)
        y = x.mean(dim=(2, 3))  # squeeze: (N, C)
        s = self.gate(self.conv(y[:, None, :]))[:, 0]  # across channels: (N, 1, C) -> (N, C)
        return x * s[:, :, None, None]  # scale

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"
