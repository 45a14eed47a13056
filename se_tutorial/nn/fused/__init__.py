"""The fused SE path: the SE tail of a residual block in fewer passes over memory.

* :mod:`.kernels` - the Triton kernels (imported only where Triton is installed)
* :mod:`.ops` - the kernels as ``torch.library`` operators, with a PyTorch reference on CPUs
* :mod:`.cpu` - the tail on CPUs: one autograd function with its backward written out
* :mod:`.cpu_kernel` - that function's compiled kernel (``se_tail.c``), built on first use
* :mod:`.fuse` - :func:`fuse_se`, which plugs the operators into a model's blocks
"""

from .fuse import FusedSETail, excitation, fuse_se, fusion_mode, se_residual, use_fused
from .ops import interpreted, scale_add_relu, squeeze, triton_available

__all__ = [
    "FusedSETail",
    "excitation",
    "fuse_se",
    "fusion_mode",
    "interpreted",
    "scale_add_relu",
    "se_residual",
    "squeeze",
    "triton_available",
    "use_fused",
]
