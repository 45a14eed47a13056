"""The Convolutional Block Attention Module (CBAM): channel attention, then spatial attention.

Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018.
For ``F`` of shape ``(N, C, H, W)`` (the paper's Eqs. 1-3):

* channel attention: ``M_c(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))`` -> ``(N, C)``,
  one MLP ``W1 relu(W0 .)`` (``C -> C/r -> C``) shared by both pooled descriptors;
  ``F' = M_c(F) * F``
* spatial attention: ``M_s(F') = sigmoid(f7x7([AvgPool_c(F'); MaxPool_c(F')]))`` -> ``(N, 1, H, W)``,
  the mean and max over channels stacked into 2 maps, one 7x7 convolution;
  ``F'' = M_s(F') * F'``

Where timm (``CbamModule``) and the authors' code differ from the equations: both put a
batch norm after the 7x7 convolution. ``spatial_batch_norm=True`` adds it (timm's
layout, used to check this module against timm); the default follows the paper.
The MLP width is :func:`~se_tutorial.nn.se_block.reduced_channels`, as in SE; timm
rounds ``C / r`` to the nearest integer instead, which differs only for ``C <= r``.
"""

from __future__ import annotations

import torch
from torch import nn

from ...utils import checks
from ..se_block import bottleneck_width


class ChannelAttention(nn.Module):
    """CBAM's channel half: ``x * sigmoid(mlp(avg(x)) + mlp(max(x)))``. Shape: ``(N, C, H, W)`` kept."""

    def __init__(self, channels: int, hidden_channels: int, *, bias: bool = False) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.hidden_channels = checks.positive_int("hidden_channels", hidden_channels)
        self.fc1 = nn.Linear(channels, hidden_channels, bias=bias)  # W0: C -> C/r
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden_channels, channels, bias=bias)  # W1: C/r -> C

    def mlp(self, z: torch.Tensor) -> torch.Tensor:
        """The shared MLP: ``(N, C) -> (N, C/r) -> (N, C)``."""
        return self.fc2(self.act(self.fc1(z)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3)))  # (N, C)
        return x * torch.sigmoid(logits)[:, :, None, None]


class SpatialAttention(nn.Module):
    """CBAM's spatial half: ``x * sigmoid(conv([mean_c(x); max_c(x)]))``. Shape: ``(N, C, H, W)`` kept."""

    def __init__(self, kernel_size: int = 7, *, batch_norm: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size = checks.odd_int("spatial_kernel_size", kernel_size)
        # With a batch norm after it, a bias would only be subtracted again.
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
        self.norm = nn.BatchNorm2d(1) if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (N, 2, H, W)
        return x * torch.sigmoid(self.norm(self.conv(maps)))  # (N, 1, H, W) broadcast over C


class CBAM(nn.Module):
    """Channel attention followed by spatial attention (the paper's sequential, channel-first order).

    Args:
        channels: ``C``, the number of input (and output) channels.
        reduction_ratio: ``r``; the shared MLP has ``reduced_channels(C, r)`` hidden units.
        hidden_channels: set the MLP's width directly instead.
        spatial_kernel_size: the spatial convolution's size, odd (the paper's 7).
        spatial_batch_norm: batch norm after the spatial convolution (timm's and the
            authors' code; not in the paper's equations).
        bias: give the MLP's layers biases (the equations have none).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        reduction_ratio: int = 16,
        *,
        hidden_channels: int | None = None,
        spatial_kernel_size: int = 7,
        spatial_batch_norm: bool = False,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
        hidden_channels = bottleneck_width(channels, self.reduction_ratio, hidden_channels)
        self.channel_attention = ChannelAttention(channels, hidden_channels, bias=bias)
        self.spatial_attention = SpatialAttention(spatial_kernel_size, batch_norm=spatial_batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "CBAM", self.channel_attention.fc1.weight)
        refined = self.channel_attention(x)  # F' = M_c(F) * F
        return self.spatial_attention(refined)  # F'' = M_s(F') * F'

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden_channels={self.channel_attention.hidden_channels}"
