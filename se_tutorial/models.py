"""ResNets built from the package's own blocks.

* :func:`cifar_resnet` - the small-image ResNets of He et al. (2016, Sec. 4.2):
  depth ``6n + 2``, three stages of ``n`` basic blocks with 16, 32, 64 channels
  (times ``width``), for 28x28 or 32x32 inputs.
* :func:`resnet50` / :func:`se_resnet50` - the ImageNet ResNet-50 with the same
  parameter names as torchvision's, so its weights load through
  :func:`from_torchvision_state_dict`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from functools import partial

import torch
from torch import nn

from . import _checks
from .attention import AttentionFactory, attention_layer, resolve_attention
from .resnet_blocks import BasicResNetBlock, BottleneckBlock, ResidualBlock, conv_bn


class ResNet(nn.Module):
    """Stem, stages of residual blocks, global average pooling, linear classifier.

    Args:
        block: the residual block class (:class:`BasicResNetBlock` or :class:`BottleneckBlock`),
            or a callable with its signature.
        stage_depths: blocks per stage, ``N_s`` in the SENet paper.
        stage_channels: output channels per stage, ``C_s``; stages after the
            first halve the resolution.
        stem: ``"cifar"`` (3x3 conv) or ``"imagenet"`` (7x7/2 conv and 3x3/2 max pool).
        stem_channels: channels after the stem.
        in_channels, num_classes: input channels and number of classes.
        attention: ``None``, a registered name such as ``"se"``, or a factory.
        placement: where each block puts its attention module.
        attention_stages: the stages (counted from 1) whose blocks get the
            attention module; ``None`` means every stage.
        zero_init_residual: start every block as the identity (last BN's gamma = 0).
        seed: if given, initialise every layer from its own generator keyed by
            ``(seed, layer name)`` (see :meth:`init_weights`), so that two models
            built with the same seed agree in every layer they share.

    Shape: ``(N, in_channels, H, W) -> (N, num_classes)`` logits.
    """

    def __init__(
        self,
        block: Callable[..., ResidualBlock],
        stage_depths: Sequence[int],
        stage_channels: Sequence[int],
        *,
        stem: str,
        stem_channels: int,
        in_channels: int = 3,
        num_classes: int = 10,
        attention: str | AttentionFactory | None = None,
        placement: str = "standard",
        attention_stages: Sequence[int] | None = None,
        zero_init_residual: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        # A seeded model leaves the global generator as it found it: its layers draw
        # their first (discarded) weights while being built, before init_weights.
        global_state = torch.random.get_rng_state() if seed is not None else None
        if len(stage_depths) != len(stage_channels) or not stage_depths:
            raise ValueError(
                f"stage_depths and stage_channels must be non-empty and of equal length, "
                f"got {list(stage_depths)} and {list(stage_channels)}."
            )
        self.in_channels = in_channels = _checks.positive_int("in_channels", in_channels)
        self.num_classes = num_classes = _checks.positive_int("num_classes", num_classes)
        stem = _checks.choice("stem", stem, ("cifar", "imagenet"))
        stem_channels = _checks.positive_int("stem_channels", stem_channels)
        factory = resolve_attention(attention)
        if attention_stages is not None:
            stages = range(1, len(stage_depths) + 1)
            if not attention_stages or any(stage not in stages for stage in attention_stages):
                raise ValueError(
                    f"attention_stages must name stages among {list(stages)}, got {list(attention_stages)}."
                )

        kernel = 3 if stem == "cifar" else 7
        self.conv1, self.bn1 = conv_bn(in_channels, stem_channels, kernel, 1 if stem == "cifar" else 2)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()

        self.stage_names: list[str] = []
        channels = stem_channels
        for index, (depth, out_channels) in enumerate(zip(stage_depths, stage_channels, strict=True)):
            depth = _checks.positive_int(f"stage_depths[{index}]", depth)
            out_channels = _checks.positive_int(f"stage_channels[{index}]", out_channels)
            blocks = []
            for position in range(depth):
                stride = 2 if index > 0 and position == 0 else 1
                here = factory if attention_stages is None or index + 1 in attention_stages else None
                blocks.append(block(channels, out_channels, stride, attention=here, placement=placement))
                channels = out_channels
            name = f"layer{index + 1}"
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        self.fc = nn.Linear(channels, num_classes)
        self.zero_init_residual = zero_init_residual
        self.init_weights(seed)
        if global_state is not None:
            torch.random.set_rng_state(global_state)

    def init_weights(self, seed: int | None = None) -> None:
        """Initialise every layer: He-normal convolutions, PyTorch's defaults elsewhere.

        Without ``seed`` the layers draw from the global random generator in
        construction order, so adding an SE block shifts every draw after it.
        With ``seed``, each layer draws from a generator seeded by a hash of
        ``(seed, its name)``: a layer's initial weights then depend only on its
        name and shape, and a ResNet and an SE-ResNet built with one seed start
        identical in every layer they share, the stem included.
        """
        for name, module in self.named_modules():
            if next(module.parameters(recurse=False), None) is None:
                continue
            with _layer_generator(seed, name) if seed is not None else nullcontext():
                if seed is not None and hasattr(module, "reset_parameters"):
                    module.reset_parameters()
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if self.zero_init_residual:
            for module in self.modules():
                if isinstance(module, ResidualBlock):
                    nn.init.zeros_(module.last_bn.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps of the last stage: ``(N, C_in, H, W) -> (N, C_last, H', W')``."""
        _checks.feature_map(x, self.in_channels, type(self).__name__, self.conv1.weight)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))  # (N, C_last) -> (N, classes)


@contextmanager
def _layer_generator(seed: int, name: str) -> Iterator[None]:
    """Seed the global CPU generator from ``(seed, name)`` inside, and restore it after."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))
        yield


def cifar_resnet(
    depth: int = 20,
    *,
    in_channels: int = 3,
    num_classes: int = 10,
    width: int = 1,
    attention: str | AttentionFactory | None = None,
    placement: str = "standard",
    attention_stages: Sequence[int] | None = None,
    zero_init_residual: bool = False,
    seed: int | None = None,
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
        attention_stages=attention_stages,
        zero_init_residual=zero_init_residual,
        seed=seed,
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
    stride_on_1x1: bool = False,
    seed: int | None = None,
) -> ResNet:
    """ImageNet ResNet-50. Shape: ``(N, in_channels, H, W) -> (N, num_classes)``.

    By default torchvision's "v1.5" layout (the stride of a downsampling
    bottleneck on its 3x3 convolution); ``stride_on_1x1=True`` gives the
    original layout that the SENet paper's FLOP counts refer to.
    """
    block = partial(BottleneckBlock, stride_on_1x1=True) if stride_on_1x1 else BottleneckBlock
    return ResNet(
        block,
        RESNET50_STAGE_DEPTHS,
        RESNET50_STAGE_CHANNELS,
        stem="imagenet",
        stem_channels=64,
        in_channels=in_channels,
        num_classes=num_classes,
        attention=attention,
        placement=placement,
        seed=seed,
    )


def se_resnet50(
    *,
    reduction_ratio: int = 16,
    hidden_channels: int | Callable[[int], int] | None = None,
    bias: bool = False,
    **resnet50_options: object,
) -> ResNet:
    """SE-ResNet-50: ResNet-50 with an SE block in every bottleneck.

    ``hidden_channels`` overrides the rule ``reduced_channels(C, r)`` (a number,
    or a function of the block's channels); ``bias=True`` gives the SE layers
    biases, as timm's ``seresnet50`` has. Other options go to :func:`resnet50`.
    """
    se = attention_layer("se", reduction_ratio=reduction_ratio, hidden_channels=hidden_channels, bias=bias)
    return resnet50(attention=se, **resnet50_options)


def from_torchvision_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision ResNet keys for this package (``downsample`` -> ``shortcut``).

    >>> model = resnet50()
    >>> model.load_state_dict(from_torchvision_state_dict(torchvision_model.state_dict()))  # doctest: +SKIP
    """
    return {key.replace(".downsample.", ".shortcut."): value for key, value in state_dict.items()}


def from_timm_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert the weights of timm's ``resnet50`` / ``seresnet50`` for this package.

    Besides ``downsample`` -> ``shortcut``, timm's SE module ``se`` becomes
    ``attention``, and its 1x1 convolutions ``(C', C, 1, 1)`` become the
    ``Linear`` weights ``(C', C)`` they are equivalent to. timm's SE layers have
    biases: load into ``se_resnet50(bias=True)``, or drop the ``.bias`` entries
    of the SE layers for the bias-free default (exact only when they are zero).
    """
    converted = {}
    for key, value in from_torchvision_state_dict(state_dict).items():
        if ".se." in key:
            key = key.replace(".se.", ".attention.")
            value = value.flatten(1) if value.ndim == 4 else value
        converted[key] = value
    return converted
