"""Attention modules, and one interface to them: a name -> a factory ``channels -> module``.

Residual blocks never construct an attention module themselves; they receive a
factory and call it with the number of channels at the point where the module
sits. That keeps the blocks independent of the attention type: every module
below takes ``channels`` first, maps ``(N, C, H, W)`` to ``(N, C, H, W)``, and
plugs in by its name in :data:`ATTENTION_LAYERS`. One file per module, each
with its paper's equations:

=========  =====================================  ====================================
name       class (module)                         paper
=========  =====================================  ====================================
``se``     ``SEBlock`` (..se_block)               Hu et al., CVPR 2018
``ese``    ``EffectiveSE`` (.effective_se)        Lee and Park (CenterMask), CVPR 2020
``eca``    ``EfficientChannelAttention`` (.eca)   Wang et al. (ECA-Net), CVPR 2020
``cbam``   ``CBAM`` (.cbam)                       Woo et al., ECCV 2018
``gc``     ``GlobalContext`` (.global_context)    Cao et al. (GCNet), ICCV-W 2019
``ge``     ``GatherExcite`` (.gather_excite)      Hu et al., NeurIPS 2018
``srm``    ``StyleRecalibration`` (.srm)          Lee et al., ICCV 2019
``simam``  ``SimAM`` (.simam)                     Yang et al., ICML 2021
``fca``    ``FrequencyChannelAttention`` (.fca)   Qin et al. (FcaNet), ICCV 2021
``coord``  ``CoordinateAttention`` (.coordinate)  Hou et al., CVPR 2021
=========  =====================================  ====================================

Every module is also one instance of a template, gather, transform, fuse (the
global-context paper's framing, Section 3.3): :data:`TEMPLATES` says what each
does at each step.
Only SE has the fused kernels (:mod:`se_tutorial.nn.fused`) and ``capture_excitations``;
the other modules always run their readable ``forward``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from torch import nn

from ...utils import checks
from ..se_block import SEBlock
from .cbam import CBAM
from .coordinate import CoordinateAttention
from .eca import EfficientChannelAttention
from .effective_se import EffectiveSE
from .fca import FrequencyChannelAttention, dct_basis
from .gather_excite import GatherExcite
from .global_context import GlobalContext
from .simam import SimAM
from .srm import StyleRecalibration

#: Builds the attention module for a given channel count.
AttentionFactory = Callable[[int], nn.Module]

#: Every attention class takes ``channels`` as its first argument.
ATTENTION_LAYERS: dict[str, type[nn.Module]] = {
    "se": SEBlock,
    "ese": EffectiveSE,
    "eca": EfficientChannelAttention,
    "cbam": CBAM,
    "gc": GlobalContext,
    "ge": GatherExcite,
    "srm": StyleRecalibration,
    "simam": SimAM,
    "fca": FrequencyChannelAttention,
    "coord": CoordinateAttention,
}


def attention_layer(name: str, **options: object) -> AttentionFactory:
    """Factory for the attention module called ``name``, with ``options`` fixed.

    >>> make = attention_layer("se", reduction_ratio=8)
    >>> make(64).hidden_channels
    8
    """
    cls = ATTENTION_LAYERS[checks.choice("attention", name, ATTENTION_LAYERS)]
    try:  # fail now, not when the first block is built
        inspect.signature(cls).bind_partial(1, **options)
    except TypeError as error:
        raise TypeError(f"attention {name!r} does not accept these options: {error}") from None
    return partial(cls, **options)


def resolve_attention(attention: str | AttentionFactory | None) -> AttentionFactory | None:
    """Accept ``None``, a registered name such as ``"se"``, or a factory."""
    if attention is None or callable(attention):
        return attention
    if isinstance(attention, str):
        return attention_layer(attention)
    raise TypeError(
        f"attention must be None, a name ({', '.join(map(repr, ATTENTION_LAYERS))}) "
        f"or a callable channels -> nn.Module, got {type(attention).__name__}."
    )


# The template (Cao et al., GCNet, Section 3.3), on a map x of shape (N, C, H, W): *gather*
# summarises x into a context ((N, C) for a global descriptor, strips or a coarse map where
# a module keeps position); *transform* turns it into weights (or an offset); *fuse* brings
# them back to every position of x, by scaling or by adding.


class Template(NamedTuple):
    """What a module does at each step of gather, transform, fuse (shapes for an ``(N, C, H, W)`` map)."""

    gather: str
    transform: str
    fuse: str


#: One :class:`Template` per module name, in the order chapter 7 meets them.
TEMPLATES: dict[str, Template] = {
    "se": Template("average over H, W: (N, C)", "FC C→C/r, ReLU, FC C/r→C, sigmoid", "x · s per channel"),
    "ese": Template("average over H, W: (N, C)", "one FC C→C, hard sigmoid", "x · s per channel"),
    "eca": Template(
        "average over H, W: (N, C)", "1-D conv of size k(C) along the channels, sigmoid", "x · s per channel"
    ),
    "fca": Template("K DCT coefficients, one per channel group: (N, C)", "as SE", "x · s per channel"),
    "srm": Template(
        "mean and standard deviation: (N, C, 2)", "2 weights per channel, BN, sigmoid", "x · s per channel"
    ),
    "gc": Template(
        "softmax-weighted sum over positions: (N, C)",
        "1x1 conv C→C/r, LayerNorm, ReLU, 1x1 conv C/r→C",
        "x + d per channel (added)",
    ),
    "ge": Template("average over H, W: (N, C)", "none", "x · sigmoid(context) per channel"),
    "ge-theta": Template(
        "log2(e) depthwise 3x3 stride-2 convs: (N, C, H/e, W/e)",
        "none (BN inside the gather)",
        "x · sigmoid(upsampled context) per position",
    ),
    "cbam": Template(
        "average and max over H, W: 2 x (N, C); then mean and max over C: (N, 2, H, W)",
        "shared MLP C→C/r→C on both, summed, sigmoid; then 7x7 conv, sigmoid",
        "x · s per channel, then · m per position",
    ),
    "coord": Template(
        "average along W and along H: (N, C, H) and (N, C, W)",
        "shared 1x1 conv C→C', BN, h-swish; a 1x1 conv C'→C per axis, sigmoid",
        "x · g_h · g_w per position",
    ),
    "simam": Template(
        "mean and variance over H, W: (N, C, 1, 1)",
        "each neuron's inverse energy 1/e (no parameters)",
        "x · sigmoid(1/e) per neuron",
    ),
}


__all__ = [
    "ATTENTION_LAYERS",
    "CBAM",
    "TEMPLATES",
    "AttentionFactory",
    "CoordinateAttention",
    "EffectiveSE",
    "EfficientChannelAttention",
    "FrequencyChannelAttention",
    "GatherExcite",
    "GlobalContext",
    "SEBlock",
    "SimAM",
    "StyleRecalibration",
    "Template",
    "attention_layer",
    "dct_basis",
    "resolve_attention",
]
