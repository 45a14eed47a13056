"""Coordinate attention: channel attention that keeps the position along each axis.

Hou, Zhou and Feng, "Coordinate Attention for Efficient Mobile Network Design", CVPR
2021. SE pools a channel to one number; coordinate attention pools along each axis
separately, so the weights remember where along the height and the width a feature
lies. For ``x`` of shape ``(N, C, H, W)``:

* pooling:   ``z^h_c(h) = 1/W * sum_w x_c(h, w)`` -> ``(N, C, H)``;
  ``z^w_c(w) = 1/H * sum_h x_c(h, w)``            -> ``(N, C, W)``
* shared transform: ``f = h_swish(BN(F_1([z^h, z^w])))``, one 1x1 convolution
  ``C -> C'`` on both strips concatenated                              -> ``(N, C', H + W)``
* split ``f`` into ``f^h`` ``(N, C', H)`` and ``f^w`` ``(N, C', W)``;
  ``g^h = sigmoid(F_h(f^h))``, ``g^w = sigmoid(F_w(f^w))``, 1x1 convolutions ``C' -> C``
* reweight:  ``y_c(i, j) = x_c(i, j) * g^h_c(i) * g^w_c(j)``            -> ``(N, C, H, W)``

``C' = max(8, C // r)`` with ``r = 32``, and the convolutions have biases, as in the
authors' code. timm's ``CoordAttn`` computes the same with its own defaults: no
biases and ``C'`` rounded to a multiple of 8 from ``C * 2/3 / 16`` (so that the
parameters match SE's); with the same width and biases the outputs agree.
"""

from __future__ import annotations

import torch
from torch import nn

from ...utils import checks


class CoordinateAttention(nn.Module):
    """Coordinate attention: ``x * g^h * g^w``, one weight per channel and row, and per channel and column.

    Args:
        channels: ``C``, the number of input (and output) channels.
        reduction_ratio: ``r``; the shared transform has ``max(8, C // r)`` channels.
        hidden_channels: set that width ``C'`` directly instead.
        bias: give the three 1x1 convolutions biases (the authors' code does).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        reduction_ratio: int = 32,
        *,
        hidden_channels: int | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
        if hidden_channels is None:
            hidden_channels = max(8, channels // self.reduction_ratio)  # narrow layers keep 8
        self.hidden_channels = hidden = checks.positive_int("hidden_channels", hidden_channels)
        self.conv = nn.Conv2d(channels, hidden, 1, bias=bias)  # F_1, shared by both strips
        self.bn = nn.BatchNorm2d(hidden)
        self.act = nn.Hardswish()  # h_swish(t) = t * relu6(t + 3) / 6
        self.conv_h = nn.Conv2d(hidden, channels, 1, bias=bias)  # F_h
        self.conv_w = nn.Conv2d(hidden, channels, 1, bias=bias)  # F_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "CoordinateAttention", self.conv.weight)
        height = x.shape[2]
        z_h = x.mean(dim=3, keepdim=True)  # (N, C, H, 1)
        z_w = x.mean(dim=2, keepdim=True).transpose(2, 3)  # (N, C, W, 1): a column, like z_h
        # Both strips through one transform; the batch norm sees H + W positions per channel.
        f = self.act(self.bn(self.conv(torch.cat([z_h, z_w], dim=2))))  # (N, C', H + W, 1)
        f_h, f_w = f[:, :, :height], f[:, :, height:]
        g_h = torch.sigmoid(self.conv_h(f_h))  # (N, C, H, 1)
        g_w = torch.sigmoid(self.conv_w(f_w)).transpose(2, 3)  # (N, C, 1, W)
        return x * g_h * g_w

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden_channels={self.hidden_channels}"
