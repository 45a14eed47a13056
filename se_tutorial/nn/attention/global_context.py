"""The Global Context (GC) block: attention pooling, a bottleneck transform, fusion by addition.

Cao, Xu, Lin, Wei and Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks
and Beyond", ICCV Workshops 2019 (extended in TPAMI 2020). A non-local block computes
almost the same attention map for every query position, so GC computes it once. For
``x`` of shape ``(N, C, H, W)``, with ``x_j`` the ``C``-vector at position ``j``:

* context modelling: ``alpha = softmax_j(W_k x_j)``, ``c = sum_j alpha_j x_j``  -> ``(N, C)``
* transform:         ``d = W_v2 relu(LN(W_v1 c))``, ``C -> C/r -> C``           -> ``(N, C)``
* fusion:            ``z_i = x_i + d`` (the paper's default, "add"),
  or ``z_i = x_i * sigmoid(d)`` (its "scale" variant)                           -> ``(N, C, H, W)``

``W_k`` is a ``1 x C`` map (a 1x1 convolution to one channel) and ``LN`` a layer norm
over the ``C/r`` bottleneck units, which the paper adds to ease the optimisation
of the two-layer transform. The paper's ratio is ``r = 16``.

Where timm (``GlobalContext``) differs: its default fusion is "scale" (``fuse_add=False,
fuse_scale=True``), its default ratio 1/8, and its ``W_k`` has a bias. A bias added to
every logit cancels in the softmax, so it is left out here: loading timm's weights
drops it and gives the same outputs.
"""

from __future__ import annotations

import torch
from torch import nn

from ...utils import checks
from ..se_block import bottleneck_width

FUSIONS = ("add", "scale")


class GlobalContext(nn.Module):
    """The GC block: ``x + transform(attention_pool(x))`` (or ``x * sigmoid(...)``).

    Args:
        channels: ``C``, the number of input (and output) channels.
        reduction_ratio: ``r``; the transform has ``reduced_channels(C, r)`` hidden units.
        hidden_channels: set the transform's width directly instead.
        fusion: ``"add"`` (the paper's default) or ``"scale"``.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        reduction_ratio: int = 16,
        *,
        hidden_channels: int | None = None,
        fusion: str = "add",
    ) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
        self.hidden_channels = hidden = bottleneck_width(channels, self.reduction_ratio, hidden_channels)
        self.fusion = checks.choice("fusion", fusion, FUSIONS)
        self.key = nn.Conv2d(channels, 1, kernel_size=1, bias=False)  # W_k: one logit per position
        self.transform = nn.Sequential(
            nn.Linear(channels, hidden),  # W_v1
            nn.LayerNorm(hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels),  # W_v2
        )

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """Attention pooling, ``sum_j softmax_j(W_k x_j) x_j``: ``(N, C, H, W) -> (N, C)``."""
        weights = torch.softmax(self.key(x).flatten(2), dim=-1)  # alpha: (N, 1, H W), sums to 1
        return (x.flatten(2) @ weights.transpose(1, 2))[:, :, 0]  # (N, C, HW) @ (N, HW, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "GlobalContext", self.key.weight)
        d = self.transform(self.context(x))[:, :, None, None]  # (N, C, 1, 1), the same at every position
        if self.fusion == "add":
            return x + d
        return x * torch.sigmoid(d)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden_channels={self.hidden_channels}, fusion={self.fusion!r}"
