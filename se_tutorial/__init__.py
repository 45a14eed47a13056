"""se_tutorial: Squeeze-and-Excitation blocks, the ResNets of the book, and their training engine.

The package follows the flow of data; each layer imports only the ones above it in this list:

* :mod:`se_tutorial.utils` - argument checks, known errors, safe files, fetching, provenance
* :mod:`se_tutorial.nn` - ``SEBlock`` and the other attention modules, residual blocks, ``ModelSpec``,
  ResNets, costs, and the fused (Triton) SE path
* :mod:`se_tutorial.data` - Fashion-MNIST and CIFAR-10 as tensors; batches made on the device
* :mod:`se_tutorial.training` - budgets, ``fit``, precision, evaluation, checkpoints, history
* :mod:`se_tutorial.studies` - runs as results rows, sweeps, statistics, the paper's ablations
* :mod:`se_tutorial.book` - what only the book needs: figures, stored results, shipped weights
* :mod:`se_tutorial.cli` - ``python -m se_tutorial train ...`` and ``python -m se_tutorial sweep ...``

The names a network needs import from the top (``from se_tutorial import SEBlock``).
"""

from importlib import import_module

__version__ = "0.1.0"

#: The names a network needs, defined in :mod:`se_tutorial.nn` (a test keeps the two lists equal).
__all__ = [
    "ATTENTION_LAYERS",
    "CIFAR_DEPTHS",
    "GATES",
    "PLACEMENTS",
    "SQUEEZES",
    "AttentionFactory",
    "BasicResNetBlock",
    "BottleneckBlock",
    "ModelSpec",
    "ResNet",
    "ResidualBlock",
    "SEBlock",
    "SEBottleneckBlock",
    "SEResNetBlock",
    "attention_layer",
    "capture_excitations",
    "cifar_resnet",
    "count_flops",
    "count_parameters",
    "from_timm_state_dict",
    "from_torchvision_state_dict",
    "layer_table",
    "reduced_channels",
    "resnet50",
    "se_block_cost",
    "se_extra_parameters",
    "se_resnet50",
]


def __getattr__(name: str) -> object:
    # Loaded on first use, so that `python -m se_tutorial` starts without importing torch
    # and can answer Ctrl-C during its imports with one line instead of a traceback.
    if name in __all__:
        return getattr(import_module(".nn", __name__), name)
    raise AttributeError(f"module 'se_tutorial' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
