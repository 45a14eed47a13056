"""Gather-Excite (GE): gather context over a spatial extent, excite every position with it.

Hu, Shen, Albanie, Sun and Vedaldi, "Gather-Excite: Exploiting Feature Context in
Convolutional Neural Networks", NeurIPS 2018. For ``x`` of shape ``(N, C, H, W)``:

* gather ``xi_G``: summarise each channel over neighbourhoods of extent ``e``
  -> ``(N, C, H', W')`` (``H' = W' = 1`` for a global extent)
* excite ``xi_E``: ``out = x * sigmoid(upsample(xi_G(x)))``, nearest-neighbour
  upsampling back to ``H x W``                                   -> ``(N, C, H, W)``

Two of the paper's variants:

* **GE-theta-minus** (``parametric=False``, no parameters): the gather is an average.
  Global extent: the channel mean, so ``out = x * sigmoid(mean(x))``. Extent ``e``: an
  average pool of size ``2e - 1`` and stride ``e`` (the footprint of the parametric
  gather below; as timm's ``GatherExcite`` computes it), border cells averaging only
  the positions inside the map.
* **GE-theta** (``parametric=True``): the gather is ``log2(e)`` depthwise 3x3
  convolutions of stride 2, each followed by batch norm, with a ReLU between them.

The paper's global GE-theta needs a depthwise filter as large as the feature map, so
it is tied to one input size; it is not offered here (give an ``extent``). timm
1.0.31's ``GatherExcite(extra_params=True)`` cannot be constructed (it passes
``device`` and ``dtype`` positionally), so GE-theta is checked against the
equations in the tests rather than against timm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...utils import checks


def power_of_two_extent(extent: object) -> int:
    """``extent`` if it is 2, 4, 8, ...: the parametric gather halves the map ``log2(e)`` times."""
    number = checks.positive_int("extent", extent)
    if number < 2 or number & (number - 1):
        raise ValueError(
            f"extent must be a power of two (2, 4, 8, ...) or None for the whole map, got {number}."
        )
    return number


class GatherExcite(nn.Module):
    """Gather-Excite: ``x * sigmoid(upsample(gather(x)))``.

    Args:
        channels: ``C``, the number of input (and output) channels.
        extent: ``e``, the gather's reach: 2, 4, 8, ... or ``None`` for the whole map.
        parametric: learn the gather (GE-theta, depthwise strided convolutions; needs
            an ``extent``) instead of averaging (GE-theta-minus, no parameters).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, extent: int | None = None, *, parametric: bool = False) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.extent = None if extent is None else power_of_two_extent(extent)
        if not isinstance(parametric, bool):
            raise TypeError(f"parametric must be True or False, got {parametric!r}.")
        self.parametric = parametric
        if parametric and self.extent is None:
            raise ValueError(
                "a parametric gather over the whole map needs a filter as large as the map, so "
                "one fixed input size; give extent=2, 4 or 8, or use parametric=False."
            )
        self.gather_convs: nn.Sequential | None = None
        if parametric:
            layers: list[nn.Module] = []
            for step in range(self.extent.bit_length() - 1):  # log2(e) halvings
                if step:
                    layers.append(nn.ReLU())
                layers.append(
                    nn.Conv2d(channels, channels, 3, stride=2, padding=1, groups=channels, bias=False)
                )
                layers.append(nn.BatchNorm2d(channels))
            self.gather_convs = nn.Sequential(*layers)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """``xi_G``: ``(N, C, H, W) -> (N, C, H', W')``, about ``H / e`` by ``W / e`` (1 x 1 when global)."""
        if self.gather_convs is not None:
            return self.gather_convs(x)
        if self.extent is None:
            return x.mean(dim=(2, 3), keepdim=True)
        e = self.extent
        return F.avg_pool2d(x, 2 * e - 1, stride=e, padding=e - 1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "GatherExcite", next(self.parameters(), None))
        context = self.gather(x)
        if self.extent is not None:  # a coarser map goes back to H x W; a global 1x1 one broadcasts
            context = F.interpolate(context, size=x.shape[2:], mode="nearest")  # (N, C, H, W)
        return x * torch.sigmoid(context)  # xi_E

    def extra_repr(self) -> str:
        return f"channels={self.channels}, extent={self.extent}, parametric={self.parametric}"
