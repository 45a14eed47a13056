"""The SE tail on a CPU: ``relu(x * se(x) + shortcut)`` as one autograd function, its backward written out.

Eagerly, autograd records the tail as about a dozen nodes: the squeeze, two
Linear layers, the ReLU and the gate, the scale, the addition and the ReLU,
each with its own backward. On a CPU that bookkeeping and the small
operations cost more than the arithmetic (about 1 ms per block and step in
bfloat16, whatever the map's size), and a bfloat16 broadcast addition, where
the squeeze's gradient joins the scale's, takes a slow path. One function
with the backward below does the same in a few passes:

forward, with ``z`` the squeeze and ``s`` the channel weights (``(N, C)``)::

    z = sum_ij x / (H W);   h = relu(W1 z + b1);   s = sigmoid(W2 h + b2)
    out = relu(x * s + shortcut)

backward, from ``g = d loss / d out``::

    g_pre = g where out > 0, else 0           (= d loss / d shortcut)
    d s   = sum_ij g_pre * x                  (N, C)
    d a2  = d s * s (1 - s);   d W2 = d a2^T h;   d h = d a2 W2
    d a1  = d h where h > 0;   d W1 = d a1^T z;   d z = d a1 W1
    d x   = g_pre * s + d z / (H W)           (one fused multiply-add)

For float32 and float64 maps in channels-last memory the function calls the
compiled kernel of :mod:`.cpu_kernel`, which does each of the two passes per
sample while the sample is in the cache; elsewhere (bfloat16 under autocast,
other layouts, no C compiler) it runs the equations above as PyTorch
operations. The excitation runs in float32 whatever autocast says (it is
tiny, and bfloat16 gains nothing there), so the result can differ from the
readable block's in the last bits of a bfloat16 map. Only the paper's SE
fits: average squeeze, sigmoid gate (:func:`supported` says which blocks).
"""

from __future__ import annotations

import torch
from torch import nn

from ..se_block import SEBlock, spatial_sum
from . import cpu_kernel


def supported(se: SEBlock) -> bool:
    """Whether ``se`` is the paper's SE (average squeeze, sigmoid gate) with no hooks to honour.

    Forward hooks (e.g. :func:`~se_tutorial.nn.capture_excitations` on the
    gate) need the gate to run as a module, so blocks with any keep the readable path.
    """
    return se.squeeze_name == "avg" and se.gate_name == "sigmoid" and not _hooked(se)


def _hooked(module: nn.Module) -> bool:
    """Whether ``module`` or any module inside it has a forward hook (what ``modules()`` would find, faster)."""
    if module._forward_hooks or module._forward_pre_hooks:
        return True
    return any(_hooked(child) for child in module._modules.values() if child is not None)


class SEResidual(torch.autograd.Function):
    """``relu(x * sigmoid(W2 relu(W1 mean(x) + b1) + b2) + shortcut)``; shapes as :func:`se_residual_cpu`."""

    @staticmethod
    def forward(ctx, x, shortcut, w1, b1, w2, b2):
        ctx.has_bias = (b1 is not None, b2 is not None)
        ctx.kernel = _kernel_for(x, shortcut, w1, b1, w2, b2)
        if ctx.kernel is not None:
            out, stats = cpu_kernel.forward(ctx.kernel, x, shortcut, w1, b1, w2, b2)
            ctx.save_for_backward(out, x, stats, w1, w2)
            return out
        area, dtype = x.shape[2] * x.shape[3], _excitation_dtype(x)
        z = spatial_sum(x).to(dtype) / area  # (N, C)
        with torch.autocast(x.device.type, enabled=False):  # the excitation stays in float32
            h = nn.functional.linear(z, w1.to(dtype), _cast(b1, dtype)).relu_()  # (N, C/r)
            s = torch.sigmoid(nn.functional.linear(h, w2.to(dtype), _cast(b2, dtype)))  # (N, C)
        scale = s.to(x.dtype)[:, :, None, None]
        out = torch.addcmul(shortcut.to(x.dtype), x, scale).relu_()
        ctx.save_for_backward(out, x, z, h, s, w1, w2)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.kernel is not None:
            return cpu_kernel.backward(ctx.kernel, grad, *ctx.saved_tensors, ctx.has_bias)
        out, x, z, h, s, w1, w2 = ctx.saved_tensors
        area, dtype = x.shape[2] * x.shape[3], s.dtype
        grad_pre = torch.ops.aten.threshold_backward(grad, out, 0)  # ReLU's own vectorised kernel
        grad_s = spatial_sum(grad_pre * x).to(dtype)  # (N, C)
        grad_a2 = grad_s * s * (1 - s)  # through the sigmoid
        grad_h = (grad_a2 @ w2.to(dtype)) * (h > 0)  # through W2 and the ReLU
        grad_z = grad_h @ w1.to(dtype)  # (N, C)
        # d x = g_pre * s + d z / (H W): one addcmul, its broadcast term the cheap one.
        spread = (grad_z / area).to(x.dtype)[:, :, None, None]
        grad_x = torch.addcmul(spread, grad_pre, s.to(x.dtype)[:, :, None, None])
        grad_w1 = (grad_h.t() @ z).to(w1.dtype)
        grad_w2 = (grad_a2.t() @ h).to(w2.dtype)
        grad_b1 = grad_h.sum(0).to(w1.dtype) if ctx.has_bias[0] else None
        grad_b2 = grad_a2.sum(0).to(w2.dtype) if ctx.has_bias[1] else None
        return grad_x, grad_pre, grad_w1, grad_b1, grad_w2, grad_b2


def _kernel_for(x, shortcut, w1, b1, w2, b2):
    """:mod:`.cpu_kernel`'s library where it fits: one float dtype throughout, channels-last maps, contiguous weights."""
    # Tested in this order because it runs for every block at every step: the cheapest first.
    dtype, channels_last = x.dtype, torch.channels_last
    if dtype not in cpu_kernel.C_TYPES or shortcut.dtype != dtype or w1.dtype != dtype or w2.dtype != dtype:
        return None
    if (b1 is not None and b1.dtype != dtype) or (b2 is not None and b2.dtype != dtype):
        return None
    if x.device.type != "cpu" or not (w1.is_contiguous() and w2.is_contiguous()):
        return None
    if not (
        x.is_contiguous(memory_format=channels_last) and shortcut.is_contiguous(memory_format=channels_last)
    ):
        return None
    return cpu_kernel.library(dtype)


def _excitation_dtype(x: torch.Tensor) -> torch.dtype:
    """float32, or float64 for a float64 map."""
    return torch.promote_types(x.dtype, torch.float32)


def _cast(bias: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    return None if bias is None else bias.to(dtype)


def se_residual_cpu(se: SEBlock, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
    """``relu(se(out) + identity)`` through :class:`SEResidual`: ``(N, C, H, W)`` maps in, one out.

    The output has the dtype of ``out`` (under autocast, the convolution's)
    and the layout that :func:`torch.addcmul` gives it (``out``'s).
    """
    fc1, fc2 = se.fc1, se.fc2
    return SEResidual.apply(out, identity, fc1.weight, fc1.bias, fc2.weight, fc2.bias)
