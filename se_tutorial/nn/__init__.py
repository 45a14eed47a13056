"""Layers and networks: the SE block, the other attention modules, residual blocks, ResNets.

Read in this order, each module building on the ones before:

* :mod:`.se_block` - ``SEBlock``: squeeze, excitation, scale; ``capture_excitations``
* :mod:`.attention` - attention modules by name, SE and nine more (effective SE, ECA, CBAM,
  global context, gather-excite, SRM, SimAM, FcaNet, coordinate attention), one file each:
  ``attention_layer("eca")``, ``attention_layer("se", reduction_ratio=8)``
* :mod:`.blocks` - basic and bottleneck residual blocks, with the attention module's placement
* :mod:`.resnet` - the ``ResNet`` engine: stem, stages, pooling, classifier, seeded initialisation
* :mod:`.models` - ``ModelSpec`` and the networks of the book: ``cifar_resnet``, ``se_resnet50``
* :mod:`.cost` - parameters, FLOPs and the paper's closed-form SE cost
* :mod:`.foreign_weights` - torchvision's and timm's ResNet-50 weights loaded, and checked
* :mod:`.fused` - the same SE tail in fewer passes over memory (Triton), ``fuse_se``
"""

from .attention import ATTENTION_LAYERS, AttentionFactory, attention_layer
from .blocks import (
    PLACEMENTS,
    BasicResNetBlock,
    BottleneckBlock,
    ResidualBlock,
    SEBottleneckBlock,
    SEResNetBlock,
)
from .cost import count_flops, count_parameters, layer_table, se_block_cost, se_extra_parameters
from .foreign_weights import from_timm_state_dict, from_torchvision_state_dict
from .models import CIFAR_DEPTHS, ModelSpec, cifar_resnet, resnet50, se_resnet50
from .resnet import ResNet
from .se_block import GATES, SQUEEZES, SEBlock, capture_excitations, reduced_channels

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
