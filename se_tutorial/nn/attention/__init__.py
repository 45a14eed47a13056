"""One interface for attention modules: a name -> a factory ``channels -> module``.

Residual blocks never construct an attention module themselves; they receive a
factory and call it with the number of channels at the point where the module
sits. That keeps the blocks independent of the attention type, so a later
module (ECA, CBAM, ...) plugs in by registering its class here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial

from torch import nn

from ...utils import checks
from ..se_block import SEBlock

#: Builds the attention module for a given channel count.
AttentionFactory = Callable[[int], nn.Module]

#: Every attention class takes ``channels`` as its first argument.
ATTENTION_LAYERS: dict[str, type[nn.Module]] = {"se": SEBlock}


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
