"""se_tutorial: Squeeze-and-Excitation blocks, the ResNets of the book, and their training engine.

The package follows the flow of data; each layer imports only the ones above it in this list:

* :mod:`se_tutorial.utils` - argument checks, known errors, safe files, fetching, provenance
* :mod:`se_tutorial.nn` - ``SEBlock``, the attention registry, residual blocks, ``ModelSpec``,
  ResNets, costs, and the fused (Triton) SE path
* :mod:`se_tutorial.data` - Fashion-MNIST and CIFAR-10 as tensors; batches made on the device
* :mod:`se_tutorial.training` - budgets, ``fit``, precision, evaluation, checkpoints, history
* :mod:`se_tutorial.studies` - runs as results rows, sweeps, statistics, the paper's ablations
* :mod:`se_tutorial.book` - what only the book needs: figures, stored results, shipped weights
* :mod:`se_tutorial.cli` - ``python -m se_tutorial train ...`` and ``python -m se_tutorial sweep ...``

The names below are the ones a network needs (``from se_tutorial import SEBlock``).
"""

from .nn import *  # noqa: F403 - the names a network needs; se_tutorial.nn lists them
from .nn import __all__ as __all__

__version__ = "0.1.0"
