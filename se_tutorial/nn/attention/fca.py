"""Frequency channel attention (FcaNet): SE with a squeeze by several 2-D DCT frequencies.

Qin, Zhang, Wu and Li, "FcaNet: Frequency Channel Attention Networks", ICCV 2021.
Global average pooling is, up to a constant, the lowest-frequency coefficient of the
2-D discrete cosine transform (DCT); FcaNet squeezes with more frequencies. The ``C``
channels are split into ``K`` equal groups and group ``i`` is squeezed by the DCT
basis function of frequency ``(u_i, v_i)``. For ``x`` of shape ``(N, C, H, W)``:

* pool to the DCT size ``S x S`` (the identity when ``H = W = S``)       -> ``(N, C, S, S)``
* DCT basis: ``B_uv(h, w) = c_u c_v cos(pi u (h + 1/2) / S) cos(pi v (w + 1/2) / S)``,
  ``c_0 = sqrt(1/S)``, ``c_u = sqrt(2/S)`` otherwise (the orthonormal DCT-II)
* squeeze: ``Freq_c = sum_hw x_c(h, w) B_{u_i v_i}(h, w)`` for ``c`` in group ``i``  -> ``(N, C)``
* excite and scale as SE: ``out = x * sigmoid(W2 relu(W1 Freq))``          -> ``(N, C, H, W)``

``B_00`` is the constant ``1/S``, so ``Freq`` at ``(0, 0)`` is ``S`` times the average
(:func:`dct_basis` lets a reader check it). The named selections (``"top16"``, ...) are
the paper's orders of frequencies on a 7x7 grid, as in the authors' code: ``top``
ranks each frequency by the accuracy it gave alone, ``low`` goes roughly from low to
high frequencies, ``bot`` takes the worst first. For a DCT size of ``7m`` they are scaled
by ``m``. The paper writes the basis without ``c_u c_v``; the authors' code (and this
one) normalises it, a constant per group that the first FC layer absorbs. timm has no FcaNet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...utils import checks
from ..se_block import reduced_channels

# The paper's frequency orders on the 7x7 grid, (u, v) = (vertical, horizontal), from
# the authors' code (cfzd/FcaNet, model/layer.py); selection "top16" is the first 16.
# fmt: off
FREQUENCY_ORDERS: dict[str, tuple[tuple[int, int], ...]] = {
    "top": (
        (0, 0), (0, 1), (6, 0), (0, 5), (0, 2), (1, 0), (1, 2), (4, 0),
        (5, 0), (1, 6), (3, 0), (0, 4), (0, 6), (0, 3), (3, 5), (2, 2),
        (4, 6), (6, 3), (3, 3), (5, 3), (5, 5), (2, 1), (6, 1), (5, 2),
        (5, 4), (3, 2), (3, 1), (4, 1), (2, 3), (2, 0), (6, 5), (1, 3),
    ),
    "low": (
        (0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (2, 1), (1, 2),
        (2, 2), (0, 3), (3, 0), (4, 0), (0, 4), (1, 3), (3, 1), (0, 5),
        (1, 4), (2, 3), (3, 2), (4, 1), (5, 0), (0, 6), (1, 5), (2, 4),
        (3, 3), (4, 2), (5, 1), (6, 0), (1, 6), (2, 5), (3, 4), (4, 3),
    ),
    "bot": (
        (6, 6), (1, 4), (3, 4), (3, 6), (2, 6), (4, 3), (1, 1), (2, 4),
        (4, 4), (4, 5), (5, 6), (1, 5), (4, 2), (6, 2), (2, 5), (5, 1),
        (6, 4), (1, 3), (6, 5), (2, 0), (2, 3), (4, 1), (3, 1), (3, 2),
        (5, 4), (5, 2), (6, 1), (2, 1), (5, 5), (5, 3), (3, 3), (6, 3),
    ),
}
# fmt: on
#: ``"top16"`` -> the first 16 frequencies of the "top" order, and so on for 1, 2, ..., 32.
FREQUENCY_SELECTIONS = [f"{name}{count}" for name in FREQUENCY_ORDERS for count in (1, 2, 4, 8, 16, 32)]


def dct_basis(
    height: int, width: int, frequencies: Sequence[tuple[int, int]], *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The orthonormal 2-D DCT-II basis functions ``B_uv`` of ``frequencies``: ``(K, height, width)``.

    >>> basis = dct_basis(7, 7, [(0, 0)])
    >>> x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    >>> torch.allclose((x * basis.double()).sum(dim=(2, 3)), 7 * x.mean(dim=(2, 3)))
    True
    """
    height, width = checks.positive_int("height", height), checks.positive_int("width", width)
    frequencies = _checked_frequencies(frequencies, height, width)

    def cosines(length: int, frequency: int) -> torch.Tensor:  # (length,), unit norm
        scale = math.sqrt((1 if frequency == 0 else 2) / length)
        positions = torch.arange(length, dtype=torch.float64) + 0.5
        return scale * torch.cos(math.pi * frequency * positions / length)

    basis = torch.stack([torch.outer(cosines(height, u), cosines(width, v)) for u, v in frequencies])
    return basis.to(dtype or torch.get_default_dtype())


def _checked_frequencies(frequencies: object, height: int, width: int) -> list[tuple[int, int]]:
    """``frequencies`` as a non-empty list of ``(u, v)`` with ``0 <= u < height``, ``0 <= v < width``."""
    if isinstance(frequencies, str) or not isinstance(frequencies, Sequence) or not frequencies:
        raise TypeError(
            f"frequencies must be a selection name ({FREQUENCY_SELECTIONS[4]!r}, ...) or a non-empty list "
            f"of (u, v) pairs, got {frequencies!r}."
        )
    pairs = []
    for pair in frequencies:
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"each frequency must be a (u, v) pair, got {pair!r}.")
        u, v = (checks.whole_number("frequency index", index) for index in pair)
        if not (0 <= u < height and 0 <= v < width):
            raise ValueError(
                f"frequency {(u, v)} lies outside the {height}x{width} DCT grid; "
                f"use 0 <= u < {height} and 0 <= v < {width}, or a larger dct_size."
            )
        pairs.append((u, v))
    return pairs


def select_frequencies(frequencies: str | Sequence[tuple[int, int]], dct_size: int) -> list[tuple[int, int]]:
    """A selection's ``(u, v)`` on the ``dct_size`` grid: named ones scaled from 7x7, pairs as given.

    >>> select_frequencies("top4", 7), select_frequencies("low2", 14)
    ([(0, 0), (0, 1), (6, 0), (0, 5)], [(0, 0), (0, 2)])
    """
    if not isinstance(frequencies, str):
        return _checked_frequencies(frequencies, dct_size, dct_size)
    name = checks.choice("frequency selection", frequencies, FREQUENCY_SELECTIONS)
    if dct_size % 7:
        raise ValueError(
            f"the named frequency selections are positions on the paper's 7x7 grid, so dct_size must "
            f"be a multiple of 7 (7, 14, ...), got {dct_size}; or pass frequencies as (u, v) pairs."
        )
    order, count = name[:3], int(name[3:])
    scale = dct_size // 7  # e.g. (1, 1) on 7x7 is (2, 2) on 14x14: the same frequency
    return [(u * scale, v * scale) for u, v in FREQUENCY_ORDERS[order][:count]]


class FrequencyChannelAttention(nn.Module):
    """FcaNet's multi-spectral channel attention.

    Args:
        channels: ``C``, the number of input (and output) channels; a multiple of the
            number of frequencies ``K``.
        reduction_ratio: ``r``; the excitation has ``reduced_channels(C, r)`` hidden units.
        frequencies: a name from :data:`FREQUENCY_SELECTIONS` (the paper's best, ``"top16"``)
            or a list of ``(u, v)`` pairs on the ``dct_size`` grid.
        dct_size: ``S``; every input map is average-pooled to ``S x S`` first (the paper's 7).
        hidden_channels: set the excitation's width directly instead.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``. The DCT filters are a fixed buffer
    ``dct_filters`` of shape ``(C, S, S)``, not parameters, and not saved in the state dict.
    """

    def __init__(
        self,
        channels: int,
        reduction_ratio: int = 16,
        *,
        frequencies: str | Sequence[tuple[int, int]] = "top16",
        dct_size: int = 7,
        hidden_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
        self.dct_size = dct_size = checks.positive_int("dct_size", dct_size)
        self.frequencies = select_frequencies(frequencies, dct_size)
        groups = len(self.frequencies)
        if channels % groups:
            raise ValueError(
                f"FcaNet splits the channels into one equal group per frequency, and {channels} channels "
                f"do not split into {groups}; choose a number of frequencies that divides {channels}."
            )
        if hidden_channels is None:
            hidden_channels = reduced_channels(channels, reduction_ratio)
        self.hidden_channels = hidden = checks.positive_int("hidden_channels", hidden_channels)
        basis = dct_basis(dct_size, dct_size, self.frequencies)  # (K, S, S)
        filters = basis.repeat_interleave(channels // groups, dim=0)  # (C, S, S): group i uses frequency i
        self.register_buffer("dct_filters", filters, persistent=False)  # fixed, rebuilt from the arguments
        self.fc1 = nn.Linear(channels, hidden, bias=False)  # W1: C -> C/r
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels, bias=False)  # W2: C/r -> C

    def squeeze(self, x: torch.Tensor) -> torch.Tensor:
        """Each channel's DCT coefficient at its group's frequency: ``(N, C, H, W) -> (N, C)``."""
        pooled = F.adaptive_avg_pool2d(x, self.dct_size)  # (N, C, S, S)
        return (pooled * self.dct_filters).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "FrequencyChannelAttention", self.fc1.weight)
        s = torch.sigmoid(self.fc2(self.act(self.fc1(self.squeeze(x)))))  # (N, C)
        return x * s[:, :, None, None]

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, hidden_channels={self.hidden_channels}, "
            f"dct_size={self.dct_size}, frequencies={len(self.frequencies)}"
        )
