"""The Style-based Recalibration Module (SRM): channel weights from each channel's style.

Lee, Kim and Nam, "SRM: A Style-based Recalibration Module for Convolutional Neural
Networks", ICCV 2019. A channel's "style" is its mean and standard deviation, the
statistics style transfer works with. For ``x`` of shape ``(N, C, H, W)``:

* style pooling:     ``mu_c = 1/(H W) * sum_ij x_c(i, j)``,
  ``sigma_c = sqrt(1/(H W) * sum_ij (x_c(i, j) - mu_c)^2 + eps)``, ``t_c = [mu_c, sigma_c]``  -> ``(N, C, 2)``
* style integration: ``z_c = w_c . t_c`` (channel-wise fully connected: two weights per
  channel, no mixing across channels), ``g = sigmoid(BN(z))``                          -> ``(N, C)``
* recalibration:     ``out_c = g_c * x_c``                                              -> ``(N, C, H, W)``

The module has ``2C`` weights plus the batch norm's ``2C``. Two choices follow the
authors' code where the paper leaves them open: the weights ``w`` start at zero (so
every ``g`` starts at ``sigmoid(0) = 1/2``), and ``eps = 1e-5`` inside the square
root (its gradient at zero variance would be infinite). The authors' code uses the
unbiased variance (divided by ``H W - 1``); this follows the paper's ``1/(H W)``,
which a 1x1 map also has. timm has no SRM.
"""

from __future__ import annotations

import torch
from torch import nn

from ...utils import checks


def style_pool(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each channel's mean and standard deviation: ``(N, C, H, W) -> (N, C, 2)``."""
    mean = x.mean(dim=(2, 3))  # mu: (N, C)
    std = (torch.var(x, dim=(2, 3), correction=0) + eps).sqrt()  # sigma over H W values: (N, C)
    return torch.stack([mean, std], dim=-1)


class StyleRecalibration(nn.Module):
    """SRM: ``x * sigmoid(BN(w_c . [mean_c(x), std_c(x)]))``.

    Args:
        channels: ``C``, the number of input (and output) channels.
        eps: added to the variance before its square root.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``; in training mode the batch norm needs
    more than one sample.
    """

    def __init__(self, channels: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.eps = checks.positive_finite("eps", eps)
        self.style_weights = nn.Parameter(torch.empty(channels, 2))  # w_c for [mu_c, sigma_c]
        self.bn = nn.BatchNorm1d(channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero style weights, as in the authors' code (a seeded ResNet calls this too)."""
        nn.init.zeros_(self.style_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.feature_map(x, self.channels, "StyleRecalibration", self.style_weights)
        t = style_pool(x, self.eps)  # (N, C, 2)
        z = (t * self.style_weights).sum(dim=-1)  # channel-wise fully connected: (N, C)
        g = torch.sigmoid(self.bn(z))  # (N, C)
        return x * g[:, :, None, None]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, eps={self.eps}"
