"""What a run may do: its budget, and the hyperparameters of the training loop.

Budgets let one notebook or command serve CI, a laptop and a GPU.
``SE_TUTORIAL_BUDGET`` picks one: ``smoke`` (CI, seconds), ``brief`` (a reader
on a CPU, a few minutes) or ``full`` (a GPU, the book's published numbers).
Unset, it is ``full`` on CUDA and ``brief`` elsewhere. A budget fixes the
epochs, the training subset and the model size (:meth:`Budget.model`);
everything else is shared, and :class:`TrainConfig` holds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..nn.models import ModelSpec
from ..utils import checks
from ..utils.errors import ConfigurationError


@dataclass(frozen=True)
class Budget:
    """How much training a run may do."""

    name: str
    epochs: int
    train_subset: int | None  #: training images used (``None``: all)
    test_subset: int | None  #: test images used (``None``: all)
    depth: int  #: CIFAR-style ResNet depth, 6n + 2
    width: int  #: channel multiplier of the ResNet's 16/32/64 channels
    stem_stride: int  #: 2 halves every stage's resolution (see :class:`~se_tutorial.nn.ModelSpec`)
    batch_size: int
    lr: float  #: peak learning rate of the one-cycle schedule
    augment: bool  #: random shifts and flips (short runs underfit, so they go without)

    def model(self, **spec: object) -> ModelSpec:
        """The budget's network (its depth and width), with other :class:`ModelSpec` fields from ``spec``.

        >>> BUDGETS["brief"].model(attention="se").depth
        8
        """
        return ModelSpec(
            **{"depth": self.depth, "width": self.width, "stem_stride": self.stem_stride, **spec}
        )


BUDGETS = {
    "smoke": Budget("smoke", epochs=1, train_subset=1024, test_subset=512, depth=8, width=1,
                    stem_stride=2, batch_size=128, lr=0.2, augment=True),
    # 5 epochs of ResNet-8 (stride-2 stem) on all 60,000 images: >= 91% in under a minute
    # on 2 CPU cores (benchmarks/results/cpu_recipe.json).
    "brief": Budget("brief", epochs=5, train_subset=None, test_subset=None, depth=8, width=1,
                    stem_stride=2, batch_size=128, lr=0.3, augment=False),
    "full": Budget("full", epochs=16, train_subset=None, test_subset=None, depth=20, width=4,
                   stem_stride=1, batch_size=512, lr=0.4, augment=True),
}  # fmt: skip


def resolve_budget(name: str | None = None, device: torch.device | str | None = None) -> Budget:
    """The budget called ``name``, else ``$SE_TUTORIAL_BUDGET``, else the device's default."""
    name = name or os.environ.get("SE_TUTORIAL_BUDGET") or None
    if name is None:
        device = torch.device(device) if device is not None else default_device()
        name = "full" if device.type == "cuda" else "brief"
    return BUDGETS[checks.choice("budget (SE_TUTORIAL_BUDGET)", name, BUDGETS)]


def default_device() -> torch.device:
    """The first GPU if there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: What :attr:`TrainConfig.precision` may ask for.
PRECISIONS = ("auto", "float32", "bfloat16")


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
    #: autocast dtype: ``"auto"`` (:func:`~.precision.choose_precision` decides), ``"float32"`` or ``"bfloat16"``
    precision: str = "auto"

    def __post_init__(self) -> None:
        try:
            checks.positive_int("epochs", self.epochs)
            checks.seed("seed", self.seed)
            checks.learning_rate("lr", self.lr)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(str(error)) from None
        if not 0 <= self.label_smoothing < 1:
            raise ConfigurationError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if not 0 < self.warmup < 1:
            raise ConfigurationError(f"warmup must be a fraction in (0, 1), got {self.warmup}.")
        if self.precision not in PRECISIONS:
            raise ConfigurationError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}."
            )
