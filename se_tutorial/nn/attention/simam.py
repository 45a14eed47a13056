"""SimAM: a parameter-free attention from each neuron's energy.

Yang, Zhang, Li and Xie, "SimAM: A Simple, Parameter-Free Attention Module for
Convolutional Neural Networks", ICML 2021. Inspired by spatial suppression in
neuroscience, a neuron that stands out from the others of its channel matters more.
Its minimal energy has a closed form; for ``x`` of shape ``(N, C, H, W)``, in each
channel, with ``M = H W`` neurons:

* ``mu = 1/M * sum_i x_i``, ``sigma^2 = 1/(M - 1) * sum_i (x_i - mu)^2``
* minimal energy of neuron ``t``: ``e_t = 4 (sigma^2 + lambda) / ((t - mu)^2 + 2 sigma^2 + 2 lambda)``
* the lower the energy, the more distinctive the neuron:
  ``out = x * sigmoid(1 / e)``, with ``1 / e_t = (t - mu)^2 / (4 (sigma^2 + lambda)) + 1/2``

``lambda`` (the paper's 1e-4) regularises the energy. The energy averages over the
``M - 1`` other neurons of the channel, and the authors' code keeps that divisor for
``sigma^2``. On a 1x1 map there is no other neuron: every ``t - mu`` is 0 and
``1 / e = 1/2``, which dividing by 1 there gives instead of 0/0. timm has no SimAM.
"""

from __future__ import annotations

import torch
from torch import nn

from ...utils import checks


def variance_over_other_neurons(squared_deviation: torch.Tensor) -> torch.Tensor:
    """``sum_i (x_i - mu)^2 / (H W - 1)`` per channel: ``(N, C, H, W) -> (N, C, 1, 1)``.

    A 1x1 map divides its zero sum by 1, not 0, so its variance is 0 instead of NaN.
    """
    others = max(squared_deviation.shape[2] * squared_deviation.shape[3] - 1, 1)
    return squared_deviation.sum(dim=(2, 3), keepdim=True) / others


# torch.fx.symbolic_trace records the variance as one node: max() cannot run on the
# proxies that stand for H and W (torch.export and torch.compile trace through it).
torch.fx.wrap("variance_over_other_neurons")


class SimAM(nn.Module):
    """SimAM: ``x * sigmoid((x - mu)^2 / (4 (sigma^2 + lambda)) + 1/2)``, per channel.

    Args:
        channels: ``C``, the number of input (and output) channels; the module has no
            parameters and takes it only to check its input, as every attention module does.
        energy_lambda: ``lambda``, the energy's regulariser (the paper's 1e-4).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, *, energy_lambda: float = 1e-4) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.energy_lambda = checks.positive_finite("energy_lambda", energy_lambda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "SimAM")
        squared_deviation = (x - x.mean(dim=(2, 3), keepdim=True)).square()  # (t - mu)^2
        variance = variance_over_other_neurons(squared_deviation)  # sigma^2: (N, C, 1, 1)
        inverse_energy = squared_deviation / (4 * (variance + self.energy_lambda)) + 0.5  # 1 / e_t
        return x * torch.sigmoid(inverse_energy)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, energy_lambda={self.energy_lambda}"
