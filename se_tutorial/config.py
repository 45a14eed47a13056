"""The training hyperparameters: everything ``fit`` needs besides the model and the data."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import _checks


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (the budget supplies ``epochs`` and ``lr``)."""

    epochs: int = 4
    lr: float = 0.4  #: peak learning rate of the one-cycle schedule
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup: float = 0.25  #: fraction of steps spent raising the learning rate
    compile: bool = False
    tta: bool = False  #: also average the predictions of mirrored test images
    seed: int = 0

    def __post_init__(self) -> None:
        _checks.positive_int("epochs", self.epochs)
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}.")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if not 0 < self.warmup < 1:
            raise ValueError(f"warmup must be a fraction in (0, 1), got {self.warmup}.")
