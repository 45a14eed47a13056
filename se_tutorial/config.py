"""The training hyperparameters: everything ``fit`` needs besides the model and the data."""

from __future__ import annotations

from dataclasses import dataclass

from . import _checks
from .errors import ConfigurationError


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
        try:
            _checks.positive_int("epochs", self.epochs)
            _checks.seed("seed", self.seed)
            _checks.positive_finite("lr", self.lr)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(str(error)) from None
        if not 0 <= self.label_smoothing < 1:
            raise ConfigurationError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if not 0 < self.warmup < 1:
            raise ConfigurationError(f"warmup must be a fraction in (0, 1), got {self.warmup}.")
