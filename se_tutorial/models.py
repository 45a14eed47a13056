"""ResNets built from the package's own blocks.

* :func:`cifar_resnet` - the small-image ResNets of He et al. (2016, Sec. 4.2):
  depth ``6n + 2``, three stages of ``n`` basic blocks with 16, 32, 64 channels
  (times ``width``), for 28x28 or 32x32 inputs.
* :func:`resnet50` / :func:`se_resnet50` - the ImageNet ResNet-50 with the same
  parameter names as torchvision's, so its weights load through
  :func:`from_torchvision_state_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from . import _checks
from .attention import AttentionFactory, attention_layer, resolve_attention
from .resnet_blocks import BasicResNetBlock, BottleneckBlock, ResidualBlock, conv_bn


class ResNet(nn.Module):
    """Stem, stages of residual blocks, global average pooling, linear classifier.

    Args:
        block: the residual block class (:class:`BasicResNetBlock` or :class:`BottleneckBlock`).
        stage_depths: blocks per stage, ``N_s`` in the SENet paper.
        stage_channels: output channels per stage, ``C_s``; stages after the
            first halve the resolution.
        stem: ``"cifar"`` (3x3 conv) or ``"imagenet"`` (7x7/2 conv and 3x3/2 max pool).
        stem_channels: channels after the stem.
        in_channels, num_classes: input channels and number of classes.
        attention: ``None``, a registered name such as ``"se"``, or a factory.
        placement: where each block puts its attention module.
        zero_init_residual: start every block as the identity (last BN's gamma = 0).

    Shape: ``(N, in_channels, H, W) -> (N, num_classes)`` logits.
    """

    def __init__(
        self,
        block: type[ResidualBlock],
        stage_depths: Sequence[int],
        stage_channels: Sequence[int],
        *,
        stem: str,
        stem_channels: int,
        in_channels: int = 3,
        num_classes: int = 10,
        attention: str | AttentionFactory | None = None,
        placement: str = "standard",
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if len(stage_depths) != len(stage_channels) or not stage_depths:
            raise ValueError(
                f"stage_depths and stage_channels must be non-empty and of equal length, "
                f"got {list(stage_depths)} and {list(stage_channels)}."
            )
        self.in_channels = _checks.positive_int("in_channels", in_channels)
        self.num_classes = _checks.positive_int("num_classes", num_classes)
        stem = _checks.choice("stem", stem, ("cifar", "imagenet"))
        factory = resolve_attention(attention)

        kernel = 3 if stem == "cifar" else 7
        self.conv1, self.bn1 = conv_bn(in_channels, stem_channels, kernel, 1 if stem == "cifar" else 2)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()

        self.stage_names: list[str] = []
        channels = stem_channels
        for index, (depth, out_channels) in enumerate(zip(stage_depths, stage_channels, strict=True)):
            _checks.positive_int(f"stage_depths[{index}]", depth)
            blocks = []
            for position in range(depth):
                stride = 2 if index > 0 and position == 0 else 1
                blocks.append(block(channels, out_channels, stride, attention=factory, placement=placement))
                channels = out_channels
            name = f"layer{index + 1}"
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        self.fc = nn.Linear(channels, num_classes)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, ResidualBlock):
                    last_bn = module.bn3 if isinstance(module, BottleneckBlock) else module.bn2
                    nn.init.zeros_(last_bn.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps of the last stage: ``(N, C_in, H, W) -> (N, C_last, H', W')``."""
        _checks.feature_map(x, self.in_channels, type(self).__name__)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))  # (N, C_last) -> (N, classes)


def cifar_resnet(
    depth: int = 20,
    *,
    in_channels: int = 3,
    num_classes: int = 10,
    width: int = 1,
    attention: str | AttentionFactory | None = None,
    placement: str = "standard",
    zero_init_residual: bool = False,
) -> ResNet:
    """ResNet-``depth`` for small images (depth = 6n + 2: 8, 14, 20, 32, 44, 56, 110).

    ``width`` multiplies the 16/32/64 channels of the three stages.

    >>> cifar_resnet(20, in_channels=1, attention="se")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    depth = _checks.positive_int("depth", depth)
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got {depth}.")
    width = _checks.positive_int("width", width)
    blocks_per_stage = (depth - 2) // 6
    return ResNet(
        BasicResNetBlock,
        [blocks_per_stage] * 3,
        [16 * width, 32 * width, 64 * width],
        stem="cifar",
        stem_channels=16 * width,
        in_channels=in_channels,
        num_classes=num_classes,
        attention=attention,
        placement=placement,
        zero_init_residual=zero_init_residual,
    )


#: ResNet-50's stages: ``N_s`` blocks with ``C_s`` output channels.
RESNET50_STAGE_DEPTHS = (3, 4, 6, 3)
RESNET50_STAGE_CHANNELS = (256, 512, 1024, 2048)


def resnet50(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    attention: str | AttentionFactory | None = None,
    placement: str = "standard",
) -> ResNet:
    """ImageNet ResNet-50 (torchvision's v1.5 layout). Shape: ``(N, 3, H, W) -> (N, classes)``."""
    return ResNet(
        BottleneckBlock,
        RESNET50_STAGE_DEPTHS,
        RESNET50_STAGE_CHANNELS,
        stem="imagenet",
        stem_channels=64,
        in_channels=in_channels,
        num_classes=num_classes,
        attention=attention,
        placement=placement,
    )


def se_resnet50(*, reduction_ratio: int = 16, num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """SE-ResNet-50: ResNet-50 with an SE block in every bottleneck."""
    se = attention_layer("se", reduction_ratio=reduction_ratio)
    return resnet50(num_classes=num_classes, in_channels=in_channels, attention=se)


def from_torchvision_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision ResNet keys for this package (``downsample`` -> ``shortcut``).

    >>> model = resnet50()
    >>> model.load_state_dict(from_torchvision_state_dict(torchvision_model.state_dict()))  # doctest: +SKIP
    """
    return {key.replace(".downsample.", ".shortcut."): value for key, value in state_dict.items()}
