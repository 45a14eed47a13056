"""The ResNet engine: a stem, stages of residual blocks, pooling and a classifier.

:class:`ResNet` builds any stage layout from a block class; the networks of
the book are built from it in :mod:`.models` (:func:`~.models.cifar_resnet`,
:func:`~.models.resnet50`), which also hold the defaults of every option.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from ..utils import checks
from .attention import AttentionFactory, resolve_attention
from .blocks import ResidualBlock, conv_bn


class ResNet(nn.Module):
    """Stem, stages of residual blocks, global average pooling, linear classifier.

    Args:
        block: the residual block class (:class:`BasicResNetBlock` or :class:`BottleneckBlock`),
            or a callable with its signature.
        stage_depths: blocks per stage, ``N_s`` in the SENet paper.
        stage_channels: output channels per stage, ``C_s``; stages after the
            first halve the resolution.
        stem: ``"cifar"`` (3x3 conv) or ``"imagenet"`` (7x7/2 conv and 3x3/2 max pool).
        stem_stride: the stem convolution's stride; ``None`` is the stem's own
            (1 for ``"cifar"``, 2 for ``"imagenet"``).
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

    Every argument is required: the defaults live in one place, the
    :class:`~.models.ModelSpec` that the builders in :mod:`.models` fill in.

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
        stem_stride: int | None = None,
        in_channels: int,
        num_classes: int,
        attention: str | AttentionFactory | None,
        placement: str,
        attention_stages: Sequence[int] | None,
        zero_init_residual: bool,
        seed: int | None,
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
        self.in_channels = in_channels = checks.positive_int("in_channels", in_channels)
        self.num_classes = num_classes = checks.positive_int("num_classes", num_classes)
        stem = checks.choice("stem", stem, ("cifar", "imagenet"))
        stem_channels = checks.positive_int("stem_channels", stem_channels)
        factory = resolve_attention(attention)
        if attention_stages is not None:
            stages = range(1, len(stage_depths) + 1)
            if not attention_stages or any(stage not in stages for stage in attention_stages):
                raise ValueError(
                    f"attention_stages must name stages among {list(stages)}, got {list(attention_stages)}."
                )

        kernel = 3 if stem == "cifar" else 7
        stem_stride = checks.positive_int("stem_stride", stem_stride or (1 if stem == "cifar" else 2))
        self.conv1, self.bn1 = conv_bn(in_channels, stem_channels, kernel, stem_stride)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()

        self.stage_names: list[str] = []
        channels = stem_channels
        for index, (depth, out_channels) in enumerate(zip(stage_depths, stage_channels, strict=True)):
            depth = checks.positive_int(f"stage_depths[{index}]", depth)
            out_channels = checks.positive_int(f"stage_channels[{index}]", out_channels)
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
        checks.feature_map(x, self.in_channels, type(self).__name__, self.conv1.weight)
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
