"""Studies: runs as results rows, sweeps over seeds, and what the rows say.

* :mod:`.runs` - one training run, from a model specification to a results row
* :mod:`.results` - reading results files (one JSON row per run)
* :mod:`.sweeps` - named sweeps: a baseline network and its variants, over seeds
* :mod:`.stats` - means, spreads, paired differences and their tests, Holm's correction,
  flipped predictions (McNemar) and the test-set floor (``scipy.stats``, ``statsmodels``)
* :mod:`.ablations` - the SENet paper's Tables 10-14 beside the sweeps that re-measure them
* :mod:`.excitations` - what SE blocks learn: their weights per class
"""

from .ablations import STUDIES, Study, compare, why_not_buildable, with_holm
from .excitations import BlockExcitations, class_specificity, excitation_statistics
from .results import ResultsFileError, read_rows
from .runs import resolve_model, run
from .stats import (
    FlippedPredictions,
    PairedDifference,
    Summary,
    accuracy_interval,
    flipped_predictions,
    holm,
    paired_difference,
    sign_test,
    summarize,
    t_quantile,
)
from .sweeps import SWEEPS, Sweep, run_sweep

__all__ = [
    "STUDIES",
    "SWEEPS",
    "BlockExcitations",
    "FlippedPredictions",
    "PairedDifference",
    "ResultsFileError",
    "Study",
    "Summary",
    "Sweep",
    "accuracy_interval",
    "class_specificity",
    "compare",
    "excitation_statistics",
    "flipped_predictions",
    "holm",
    "paired_difference",
    "read_rows",
    "resolve_model",
    "run",
    "run_sweep",
    "sign_test",
    "summarize",
    "t_quantile",
    "why_not_buildable",
    "with_holm",
]
