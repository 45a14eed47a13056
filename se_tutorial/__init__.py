"""se_tutorial: Squeeze-and-Excitation blocks and the ResNets of the book.

The package is small on purpose; each module holds one idea:

* :mod:`se_tutorial.se_block` - ``SEBlock``, ``reduced_channels``, ``capture_excitations``
* :mod:`se_tutorial.attention` - names -> attention-module factories
* :mod:`se_tutorial.resnet_blocks` - basic and bottleneck residual blocks, with SE placement
* :mod:`se_tutorial.models` - CIFAR-style ResNets and ResNet-50 / SE-ResNet-50
* :mod:`se_tutorial.fused_se` - the same SE blocks in fewer passes over memory (Triton), ``fuse_se``
* :mod:`se_tutorial.cost` - parameters, FLOPs and the paper's closed-form SE cost
* :mod:`se_tutorial.diagram` - data-flow diagrams traced from a block
* :mod:`se_tutorial.data` - Fashion-MNIST and CIFAR-10 as tensors, the on-device loader
* :mod:`se_tutorial.budgets` - smoke / brief / full training budgets
* :mod:`se_tutorial.prepare` - the budget's data on the device, in loaders
* :mod:`se_tutorial.config`, :mod:`se_tutorial.train` - hyperparameters and the loop, ``fit``
* :mod:`se_tutorial.evaluation`, :mod:`se_tutorial.checkpoints` - metrics, safe checkpoints
* :mod:`se_tutorial.runs`, :mod:`se_tutorial.command_line` - one run as a results row; ``python -m se_tutorial.train``
* :mod:`se_tutorial.distributed`, :mod:`se_tutorial.precision` - torchrun helpers; autocast dtype
* :mod:`se_tutorial.experiments` - named sweeps over seeds
* :mod:`se_tutorial.errors`, :mod:`se_tutorial.files` - the known errors and how command lines report
  them; atomic writes, shared appends and output paths checked before a run
"""

from .attention import ATTENTION_LAYERS, attention_layer
from .cost import count_flops, count_parameters, layer_table, se_block_cost, se_extra_parameters
from .models import (
    ResNet,
    cifar_resnet,
    from_timm_state_dict,
    from_torchvision_state_dict,
    resnet50,
    se_resnet50,
)
from .resnet_blocks import (
    PLACEMENTS,
    BasicResNetBlock,
    BottleneckBlock,
    SEBottleneckBlock,
    SEResNetBlock,
)
from .se_block import GATES, SQUEEZES, SEBlock, capture_excitations, reduced_channels

__version__ = "0.1.0"

__all__ = [
    "ATTENTION_LAYERS",
    "GATES",
    "PLACEMENTS",
    "SQUEEZES",
    "BasicResNetBlock",
    "BottleneckBlock",
    "ResNet",
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
