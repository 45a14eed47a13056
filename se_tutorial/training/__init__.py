"""Training: a budget and a configuration in, a trained model and its history out.

* :mod:`.config` - budgets (smoke, brief, full: how much a run may do) and ``TrainConfig``
* :mod:`.prepare` - the budget's data on the training device, in loaders
* :mod:`.precision` - which autocast dtype a device trains in, and why
* :mod:`.loop` - ``fit``: the optimizer, the schedule and the steps
* :mod:`.guards` - divergence and Ctrl-C: when a run stops early and what it says
* :mod:`.evaluation` - predictions, loss, accuracy and the confusion matrix
* :mod:`.checkpoints` - written atomically, checked on load
* :mod:`.history` - one row per epoch, as a table or a plot
* :mod:`.distributed` - the same code on one process or under ``torchrun``
"""

from .checkpoints import CheckpointExistsError, CheckpointMismatchError, InvalidCheckpointError
from .config import BUDGETS, Budget, TrainConfig, default_device, resolve_budget
from .evaluation import confusion_matrix, evaluate, predict
from .guards import NonFiniteLossError, TrainingDivergedError, TrainingInterrupted
from .history import History, smoothed_loss_floor
from .loop import fit, learning_rates, make_optimizer, ready_for_training
from .precision import Precision, choose_precision
from .prepare import Data, prepare_data

__all__ = [
    "BUDGETS",
    "Budget",
    "CheckpointExistsError",
    "CheckpointMismatchError",
    "Data",
    "History",
    "InvalidCheckpointError",
    "NonFiniteLossError",
    "Precision",
    "TrainConfig",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "choose_precision",
    "confusion_matrix",
    "default_device",
    "evaluate",
    "fit",
    "learning_rates",
    "make_optimizer",
    "predict",
    "prepare_data",
    "ready_for_training",
    "resolve_budget",
    "smoothed_loss_floor",
]
