"""Other libraries' ResNet-50 weights in this package's networks, and a check that they compute the same.

* :func:`from_torchvision_state_dict` - torchvision's ``resnet50`` keys for :func:`~.models.resnet50`
* :func:`from_timm_state_dict` - timm's ``resnet50`` / ``seresnet50`` for :func:`~.models.se_resnet50`
* :func:`timm_parity` - timm's ``seresnet50`` loaded into both of the package's SE-ResNet-50s,
  outputs compared
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from .cost import count_parameters
from .models import se_resnet50


def from_torchvision_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision ResNet keys for this package (``downsample`` -> ``shortcut``).

    >>> from se_tutorial import resnet50
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


def timm_parity(reference: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, bool | None]]:
    """Parameters of timm's ``seresnet50`` and of this package's two SE-ResNet-50s, and whether they agree.

    ``reference`` (timm's network, in eval mode) is loaded through
    :func:`from_timm_state_dict` into ``se_resnet50(bias=True)``, and, with its
    SE biases left out, into the bias-free ``se_resnet50()``, which computes the
    same only where those biases are zero: it is compared with a copy of
    ``reference`` whose SE biases are zeroed. Each entry is ``(parameters, same
    outputs on x)``, ``None`` where nothing is compared; the last counts the SE biases.
    """
    weights = from_timm_state_dict(reference.state_dict())
    biases = {key for key in weights if ".attention." in key and key.endswith("bias")}
    zeroed = copy.deepcopy(reference)
    with torch.no_grad():
        for name, tensor in zeroed.named_parameters():
            if ".se." in name and name.endswith("bias"):
                tensor.zero_()
        with_bias, without = se_resnet50(bias=True).eval(), se_resnet50().eval()
        with_bias.load_state_dict(weights)
        without.load_state_dict({key: value for key, value in weights.items() if key not in biases})
        return {
            "timm seresnet50": (count_parameters(reference), None),
            "se_resnet50(bias=True)": (
                count_parameters(with_bias),
                bool(torch.allclose(with_bias(x), reference(x), atol=1e-4)),
            ),
            "se_resnet50() (no biases)": (
                count_parameters(without),
                bool(torch.allclose(without(x), zeroed(x), atol=1e-4)),
            ),
            f"SE biases ({len(biases)} tensors)": (sum(weights[key].numel() for key in biases), None),
        }


__all__ = ["from_timm_state_dict", "from_torchvision_state_dict", "timm_parity"]
