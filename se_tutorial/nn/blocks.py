"""Residual blocks with a pluggable attention module.

``BasicResNetBlock`` (two 3x3 convolutions) and ``BottleneckBlock`` (1x1, 3x3,
1x1) share one forward pass, written in :class:`ResidualBlock`. Where the
attention module sits is the ``placement`` of the SENet paper's integration
study (its Fig. 5 and Table 14):

============  ================================================================
``standard``  on the residual branch, after its last BN, before the addition
``pre``       on the residual branch, before its first convolution
``post``      after the addition and the final ReLU
``identity``  on the shortcut, in parallel with the residual branch
============  ================================================================
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..utils import checks
from .attention import AttentionFactory
from .se_block import SEBlock

PLACEMENTS = ("standard", "pre", "post", "identity")


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> list[nn.Module]:
    """A bias-free convolution ("same" padding) followed by batch norm."""
    # Sizes may arrive as NumPy integers or 0-d tensors; the layers want Python ints.
    in_channels, out_channels = int(in_channels), int(out_channels)
    kernel_size, stride = int(kernel_size), int(stride)
    conv = nn.Conv2d(
        in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
    )
    return [conv, nn.BatchNorm2d(out_channels)]


class ResidualBlock(nn.Module):
    """``relu(branch(x) + shortcut(x))`` with an optional attention module.

    Subclasses build the branch (:meth:`branch`, :attr:`last_bn`); this class
    adds the shortcut (a 1x1 projection when the shape changes), the attention
    module at the requested placement, and the tail (:meth:`join`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        attention: AttentionFactory | None,
        placement: str,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels = checks.positive_int("in_channels", in_channels)
        self.out_channels = out_channels = checks.positive_int("out_channels", out_channels)
        self.stride = stride = checks.positive_int("stride", stride)
        self.placement = checks.choice("placement", placement, PLACEMENTS)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(*conv_bn(in_channels, out_channels, 1, stride))
        else:
            self.shortcut = nn.Identity()
        # SE-PRE sees the block's input; every other placement sees its output.
        attention_channels = in_channels if placement == "pre" else out_channels
        self.attention = attention(attention_channels) if attention else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def branch(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def last_bn(self) -> nn.BatchNorm2d:  # pragma: no cover - abstract
        """The branch's last batch norm: zeroing its scale makes the block start as the identity."""
        raise NotImplementedError

    def join(self, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """The block's tail: ``relu(out + identity)``, with attention at the standard or post placement.

        ``out`` is the residual branch's output and ``identity`` the shortcut's,
        both ``(N, out_channels, H', W')``. A hook: :func:`~se_tutorial.nn.fused.fuse_se`
        replaces this one method to compute the same in fewer passes over memory.
        """
        if self.placement == "standard":
            out = self.attention(out)
        out = self.relu(out + identity)
        if self.placement == "post":
            out = self.attention(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.in_channels, type(self).__name__, self.last_bn.weight)
        identity = self.shortcut(x)
        if self.placement == "identity":
            identity = self.attention(identity)
        out = self.branch(self.attention(x) if self.placement == "pre" else x)
        return self.join(out, identity)


class BasicResNetBlock(ResidualBlock):
    """Two 3x3 conv-BN layers (He et al. 2016), stride on the first.

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride)``.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        attention: AttentionFactory | None = None,
        placement: str = "standard",
    ) -> None:
        super().__init__(in_channels, out_channels, stride, attention, placement)
        self.conv1, self.bn1 = conv_bn(in_channels, out_channels, 3, stride)
        self.conv2, self.bn2 = conv_bn(out_channels, out_channels, 3)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2


class BottleneckBlock(ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand.

    The stride sits on the 3x3 convolution, as in torchvision's ResNet "v1.5";
    ``stride_on_1x1=True`` moves it to the first 1x1 convolution, as in the
    original ResNet and the SENet paper, which computes the 3x3 on a quarter of
    the positions and so costs fewer FLOPs. The inner width is
    ``out_channels // expansion``.
    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride)``.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        attention: AttentionFactory | None = None,
        placement: str = "standard",
        stride_on_1x1: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, stride, attention, placement)
        if out_channels % self.expansion:
            nearest = self.expansion * max(out_channels // self.expansion, 1)
            raise ValueError(
                f"out_channels of a bottleneck block must be a multiple of "
                f"{self.expansion}, got {out_channels}; use e.g. {nearest}."
            )
        width = out_channels // self.expansion
        self.stride_on_1x1 = stride_on_1x1
        self.conv1, self.bn1 = conv_bn(in_channels, width, 1, stride if stride_on_1x1 else 1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, 1 if stride_on_1x1 else stride)
        self.conv3, self.bn3 = conv_bn(width, out_channels, 1)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3


class WithSE:
    """Mixin: a residual block whose attention is an :class:`SEBlock` with ratio ``reduction_ratio``.

    Gives SE blocks the seed tutorial's signature,
    ``(in_channels, out_channels, stride=1, reduction_ratio=16)``;
    ``hidden_channels`` sets the SE bottleneck's width directly instead.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        reduction_ratio: int = 16,
        *,
        hidden_channels: int | None = None,
        placement: str = "standard",
        **block_options: object,
    ) -> None:
        se = partial(
            SEBlock,
            reduction_ratio=checks.positive_int("reduction_ratio", reduction_ratio),
            hidden_channels=hidden_channels,
        )
        super().__init__(
            in_channels, out_channels, stride, attention=se, placement=placement, **block_options
        )


class SEResNetBlock(WithSE, BasicResNetBlock):
    """:class:`BasicResNetBlock` with an :class:`SEBlock` after the second BN, before the addition."""


class SEBottleneckBlock(WithSE, BottleneckBlock):
    """:class:`BottleneckBlock` with an :class:`SEBlock` after the third BN, before the addition."""
