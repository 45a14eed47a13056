"""Mixed precision: which dtype autocast uses on which device.

On CUDA the forward pass runs in bfloat16, which needs no loss scaling and
runs on tensor cores. CPUs gain little from it, so they stay in float32.
"""

from __future__ import annotations

import torch


def autocast(device: torch.device):
    """The autocast context for ``device``: bfloat16 on CUDA, disabled elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
