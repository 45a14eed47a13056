"""The book's networks, from one specification.

* :class:`ModelSpec` - everything that decides a network: depth, width, the
  attention module and its options, where it sits, which stages get it,
  zero-init residual and the initialisation seed. Each field has its one
  default here; the builders, runs, sweeps and results rows all use it.
* :func:`cifar_resnet` - the small-image ResNets of He et al. (2016, Sec. 4.2):
  depth ``6n + 2``, three stages of ``n`` basic blocks with 16, 32, 64 channels
  (times ``width``), for 28x28 or 32x32 inputs (a stride-2 stem halves every
  stage's resolution).
* :func:`resnet50` / :func:`se_resnet50` - the ImageNet ResNet-50 with the same
  parameter names as torchvision's, so its weights load through
  :func:`~.foreign_weights.from_torchvision_state_dict` (and timm's through
  :func:`~.foreign_weights.from_timm_state_dict`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from ..utils import checks
from ..utils.errors import ConfigurationError
from .attention import ATTENTION_LAYERS, AttentionFactory, attention_layer
from .blocks import PLACEMENTS, BasicResNetBlock, BottleneckBlock
from .resnet import ResNet

#: ``--model`` names of the small-image ResNets: name -> depth.
CIFAR_DEPTHS = {f"resnet{depth}": depth for depth in (8, 14, 20, 32, 44, 56, 110)}


@dataclass(frozen=True)
class ModelSpec:
    """A network of the book, as data: build it, vary it, write it into a results row.

    Args:
        depth: ``6n + 2`` (8, 14, 20, ...): ``n`` residual blocks in each of three stages.
        width: multiplies the 16/32/64 channels of the three stages.
        stem_stride: stride of the 3x3 stem convolution. 1 is He et al.'s; 2 halves
            every stage's resolution (28x28 images: stages at 14, 7 and 4 pixels
            instead of 28, 14 and 7), for about a quarter of the computation with the same weights.
        attention: ``None``, a registered name (``"se"``; see :data:`ATTENTION_LAYERS`), or a
            factory ``channels -> module`` of your own (such a spec builds, but a results row
            can only record a name: register the module to name it).
        attention_options: keyword arguments of a named attention module, e.g.
            ``{"reduction_ratio": 8, "gate": "tanh"}`` or ``{"hidden_channels": "exact"}``.
        placement: where each block puts its attention module (:data:`PLACEMENTS`).
        attention_stages: the stages (from 1) whose blocks get it; ``None``: every stage.
        zero_init_residual: start every residual branch at zero (its last BN's
            gamma = 0), so that each block begins as the identity.
        seed: initialise every layer from a generator keyed by ``(seed, layer
            name)``, so networks built with one seed start alike in every layer
            they share; ``None`` draws from the global generator.

    >>> import torch
    >>> spec = ModelSpec(depth=8, attention="se")
    >>> spec.build(in_channels=1)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> spec.replace(placement="pre").to_row()["placement"]
    'pre'
    """

    depth: int
    width: int = 1
    stem_stride: int = 1
    attention: str | AttentionFactory | None = None
    attention_options: Mapping[str, object] = field(default_factory=dict)
    placement: str = "standard"
    attention_stages: tuple[int, ...] | None = None
    zero_init_residual: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as error:  # the package's kind of ValueError: says which field and why
            raise ConfigurationError(str(error)) from None

    def _check(self) -> None:
        depth = checks.positive_int("depth", self.depth)
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got {depth}.")
        checks.positive_int("width", self.width)
        checks.positive_int("stem_stride", self.stem_stride)
        if isinstance(self.attention, str):
            checks.choice("attention", self.attention, ATTENTION_LAYERS)
        elif self.attention is not None and not callable(self.attention):
            raise TypeError(
                f"attention must be None, a name ({', '.join(map(repr, ATTENTION_LAYERS))}) "
                f"or a callable channels -> nn.Module, got {type(self.attention).__name__}."
            )
        if not isinstance(self.attention_options, Mapping):
            raise TypeError(f"attention_options must be a dict, got {type(self.attention_options).__name__}.")
        if self.attention_options and self.attention is None:
            raise ValueError(
                f"attention_options {dict(self.attention_options)} configure an attention module, but "
                "attention is None; name one too, e.g. attention='se'."
            )
        checks.choice("placement", self.placement, PLACEMENTS)
        if not isinstance(self.zero_init_residual, bool):
            raise TypeError(f"zero_init_residual must be True or False, got {self.zero_init_residual!r}.")
        stages = self.attention_stages
        if stages is not None:
            stages = tuple(checks.positive_int("attention_stages", stage) for stage in stages)
        # Frozen: normalise through object.__setattr__ (copies, so the caller's dict stays theirs).
        object.__setattr__(self, "attention_options", dict(self.attention_options))
        object.__setattr__(self, "attention_stages", stages)
        if self.seed is not None:
            object.__setattr__(self, "seed", checks.seed("seed", self.seed))
        if callable(self.attention) and self.attention_options:
            raise ValueError(
                "attention_options go with a named attention module; give a factory its options."
            )
        if isinstance(self.attention, str):
            attention_layer(self.attention, **self.attention_options)  # unknown options fail now

    def replace(self, **changes: object) -> ModelSpec:
        """A copy with some fields changed: ``spec.replace(attention="se")``."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            names = ", ".join(f.name for f in dataclasses.fields(self))
            raise TypeError(f"ModelSpec has no field {', '.join(unknown)}; its fields are {names}.")
        return dataclasses.replace(self, **changes)

    def attention_factory(self) -> AttentionFactory | None:
        """The factory ``channels -> module`` that the blocks call, or ``None``."""
        if self.attention is None or callable(self.attention):
            return self.attention
        return attention_layer(self.attention, **self.attention_options)

    def build(self, *, in_channels: int = 3, num_classes: int = 10) -> ResNet:
        """The CIFAR-style ResNet this spec describes: ``(N, in_channels, H, W) -> (N, num_classes)``."""
        n = (self.depth - 2) // 6
        return ResNet(
            BasicResNetBlock, [n] * 3, [16 * self.width, 32 * self.width, 64 * self.width],
            stem="cifar", stem_stride=self.stem_stride, stem_channels=16 * self.width,
            in_channels=in_channels, num_classes=num_classes,
            **self.resnet_options(),
        )  # fmt: skip

    def resnet_options(self) -> dict[str, object]:
        """The keyword arguments of :class:`ResNet` that this spec decides, for any stage layout."""
        return {
            "attention": self.attention_factory(),
            "placement": self.placement,
            "attention_stages": self.attention_stages,
            "zero_init_residual": self.zero_init_residual,
            "seed": self.seed,
        }

    def to_row(self) -> dict[str, object]:
        """The fields as JSON-ready values, for a results row."""
        if callable(self.attention):
            raise TypeError(
                f"a results row records the attention module by name, and {self.attention!r} has none; "
                "add its class to ATTENTION_LAYERS and pass attention='its name'."
            )
        row = dataclasses.asdict(self)
        row["attention_stages"] = list(self.attention_stages) if self.attention_stages else None
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> ModelSpec:
        """The spec a results row (or a pretrained card) records; other keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {key: value for key, value in row.items() if key in names}
        if fields.get("attention") == "none":  # rows written before the spec said None
            fields["attention"] = None
        return cls(**fields)


def cifar_resnet(depth: int = 20, *, in_channels: int = 3, num_classes: int = 10, **spec: object) -> ResNet:
    """ResNet-``depth`` for small images: ``ModelSpec(depth, **spec).build(...)``.

    ``spec`` takes the other fields of :class:`ModelSpec` (``width``,
    ``attention``, ``attention_options``, ``placement``, ...).

    >>> import torch
    >>> cifar_resnet(20, in_channels=1, attention="se")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    return ModelSpec(depth, **spec).build(in_channels=in_channels, num_classes=num_classes)


#: ResNet-50's stages: ``N_s`` blocks with ``C_s`` output channels.
RESNET50_STAGE_DEPTHS = (3, 4, 6, 3)
RESNET50_STAGE_CHANNELS = (256, 512, 1024, 2048)


def resnet50(
    *, num_classes: int = 1000, in_channels: int = 3, stride_on_1x1: bool = False, **spec: object
) -> ResNet:
    """ImageNet ResNet-50. Shape: ``(N, in_channels, H, W) -> (N, num_classes)``.

    By default torchvision's "v1.5" layout (the stride of a downsampling
    bottleneck on its 3x3 convolution); ``stride_on_1x1=True`` gives the
    original layout that the SENet paper's FLOP counts refer to. ``spec`` takes
    the attention and initialisation fields of :class:`ModelSpec` (its
    defaults too); depth and width are ResNet-50's own.
    """
    for fixed in ("depth", "width"):
        if fixed in spec:
            raise TypeError(f"resnet50 has a fixed {fixed}; use cifar_resnet for other depths and widths.")
    options = ModelSpec(depth=50, **spec).resnet_options()  # 50 = 6n + 2: accepted, then unused
    block = partial(BottleneckBlock, stride_on_1x1=True) if stride_on_1x1 else BottleneckBlock
    return ResNet(
        block, RESNET50_STAGE_DEPTHS, RESNET50_STAGE_CHANNELS, stem="imagenet", stem_channels=64,
        in_channels=in_channels, num_classes=num_classes, **options,
    )  # fmt: skip


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
    se_options = {"reduction_ratio": reduction_ratio, "hidden_channels": hidden_channels, "bias": bias}
    return resnet50(attention="se", attention_options=se_options, **resnet50_options)


__all__ = [
    "CIFAR_DEPTHS",
    "RESNET50_STAGE_CHANNELS",
    "RESNET50_STAGE_DEPTHS",
    "ModelSpec",
    "cifar_resnet",
    "resnet50",
    "se_resnet50",
]
