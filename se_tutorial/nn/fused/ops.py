"""The fused SE operators: the squeeze, and ``relu(x * s + shortcut)`` with its backward, in one pass each.

Registered as ``torch.library`` custom operators, with autograd and fake
(shape-only) implementations, so ``torch.compile`` can trace them:

* ``se_tutorial::squeeze(x)``: the spatial mean, summed in float32, one read of ``x``;
* ``se_tutorial::scale_add_relu(x, s, shortcut)``: ``relu(x * s + shortcut)`` in
  one pass, and its backward ``se_tutorial::scale_add_relu_backward`` giving the
  gradients of ``x``, ``s`` (summed over H and W in float32) and ``shortcut``
  in one pass.

On a GPU with Triton they run the kernels of :mod:`.kernels`; on a CPU a plain
PyTorch reference, or the kernels themselves under Triton's interpreter when
``TRITON_INTERPRET=1`` was set before Triton was imported (how the tests check
the kernels without a GPU).
"""

from __future__ import annotations

import torch

from ..se_block import spatial_sum

try:
    from . import kernels as _se_kernels
except ImportError:  # Triton is not installed (e.g. macOS, Windows, a CPU-only wheel)
    _se_kernels = None

_KERNEL_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def triton_available() -> bool:
    """Whether the Triton kernels can be used (Triton imports)."""
    return _se_kernels is not None


def interpreted() -> bool:
    """Whether the kernels run on CPU tensors, through Triton's interpreter.

    So they do when ``TRITON_INTERPRET=1`` was set before Triton was imported
    (the tests run the kernels this way in a subprocess).
    """
    return _se_kernels is not None and _se_kernels.INTERPRETED


def _kernels_take(x: torch.Tensor) -> bool:
    """Whether the Triton kernels compute for ``x`` (else the PyTorch reference does)."""
    if _se_kernels is None or x.dtype not in _KERNEL_DTYPES or x.numel() == 0:
        return False
    return x.is_cuda or (x.device.type == "cpu" and interpreted())


def _channels_last(x: torch.Tensor) -> bool:
    """The layout the operators keep: channels-last if ``x`` is, else contiguous.

    A map laid out both ways (``H = W = 1``, ``C = 1`` or no elements) goes by
    its strides, as ``torch.empty_like`` does.
    """
    both = x.is_contiguous()
    return x.is_contiguous(memory_format=torch.channels_last) and (not both or x.stride(1) < x.stride(3))


def _dense(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def _empty_map(x: torch.Tensor) -> torch.Tensor:
    """A new tensor shaped like ``x`` in the layout :func:`_channels_last` picks (the real and fake ops agree)."""
    memory_format = torch.channels_last if _channels_last(x) else torch.contiguous_format
    return torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=memory_format)


def _sum_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def _check_map(name: str, x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} must be a feature map (N, C, H, W), got shape {tuple(x.shape)}.")


# --- squeeze ---------------------------------------------------------------------------------


@torch.library.custom_op("se_tutorial::squeeze", mutates_args=())
def squeeze(x: torch.Tensor) -> torch.Tensor:
    """Spatial mean of each channel, ``(N, C, H, W) -> (N, C)``, summed and returned in float32.

    (float64 for a float64 map.) One read of ``x``, whatever its layout.
    """
    _check_map("x", x)
    if not _kernels_take(x):
        total = spatial_sum(x).to(_sum_dtype(x.dtype))
    else:
        channels_last = _channels_last(x)
        total = _se_kernels.squeeze(_dense(x, channels_last), channels_last)
    return total / (x.shape[2] * x.shape[3])


@squeeze.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    _check_map("x", x)
    return x.new_empty(x.shape[:2], dtype=_sum_dtype(x.dtype))


def _squeeze_setup(ctx, inputs, output) -> None:
    (x,) = inputs
    ctx.x_meta = (x.shape, x.dtype, _channels_last(x))


def _squeeze_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    # d mean / dx is 1/(HW) everywhere. On a GPU a broadcast view, no full-size copy; on a
    # CPU a dense map, because adding a broadcast view into the map's other gradient (x also
    # feeds the scale) takes a slow path for bfloat16, ten times the copy's cost.
    shape, dtype, channels_last = ctx.x_meta
    spread = (grad / (shape[2] * shape[3])).to(dtype)[:, :, None, None].expand(shape)
    return spread if grad.is_cuda else _dense(spread, channels_last)


squeeze.register_autograd(_squeeze_backward, setup_context=_squeeze_setup)


# --- relu(x * s + shortcut) ------------------------------------------------------------------


def _check_scale_inputs(x: torch.Tensor, s: torch.Tensor, shortcut: torch.Tensor) -> None:
    _check_map("x", x)
    if s.shape != x.shape[:2] or shortcut.shape != x.shape:
        raise ValueError(
            f"scale_add_relu needs s of shape (N, C) = {tuple(x.shape[:2])} and a shortcut shaped like "
            f"x {tuple(x.shape)}, got {tuple(s.shape)} and {tuple(shortcut.shape)}."
        )
    if not x.dtype == s.dtype == shortcut.dtype:
        raise TypeError(
            f"scale_add_relu needs one dtype, got x {x.dtype}, s {s.dtype}, shortcut {shortcut.dtype}; "
            "scale_add_relu() (the Python function) converts them for you."
        )


@torch.library.custom_op("se_tutorial::scale_add_relu", mutates_args=())
def _scale_add_relu(x: torch.Tensor, s: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
    _check_scale_inputs(x, s, shortcut)
    out = _empty_map(x)
    if not _kernels_take(x):
        return torch.addcmul(shortcut, x, s[:, :, None, None], out=out).relu_()
    channels_last = _channels_last(x)
    x, shortcut = _dense(x, channels_last), _dense(shortcut, channels_last)
    _se_kernels.scale_add_relu(x, s.contiguous(), shortcut, out, channels_last)
    return out


@_scale_add_relu.register_fake
def _(x: torch.Tensor, s: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
    _check_scale_inputs(x, s, shortcut)
    return _empty_map(x)


@torch.library.custom_op("se_tutorial::scale_add_relu_backward", mutates_args=())
def _scale_add_relu_backward(
    grad: torch.Tensor, out: torch.Tensor, x: torch.Tensor, s: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(grad_x, grad_s, grad_shortcut)`` of ``out = relu(x * s + shortcut)``, in one pass."""
    grad_x = _empty_map(x)
    channels_last = _channels_last(x)
    if not _kernels_take(x):
        # ReLU's own backward kernel: vectorised for every dtype and layout (torch.where is not).
        grad_shortcut = _dense(torch.ops.aten.threshold_backward(grad, out, 0), channels_last)
        torch.mul(grad_shortcut, s[:, :, None, None], out=grad_x)
        grad_s = spatial_sum(grad_shortcut * x).to(_sum_dtype(x.dtype))
    else:
        grad_shortcut = _empty_map(x)
        grad, out, x = (_dense(t, channels_last) for t in (grad, out, x))
        grad_s = _se_kernels.scale_add_relu_backward(
            grad, out, x, s.contiguous(), grad_x, grad_shortcut, channels_last
        )
    return grad_x, grad_s.to(s.dtype), grad_shortcut


@_scale_add_relu_backward.register_fake
def _(grad, out, x, s):
    return _empty_map(x), torch.empty_like(s, memory_format=torch.contiguous_format), _empty_map(x)


def _scale_setup(ctx, inputs, output) -> None:
    x, s, _shortcut = inputs
    # out (the next layer's input, kept alive anyway) gives the ReLU mask.
    ctx.save_for_backward(output, x, s)


def _scale_backward(ctx, grad: torch.Tensor):
    out, x, s = ctx.saved_tensors
    return _scale_add_relu_backward(grad, out, x, s)


_scale_add_relu.register_autograd(_scale_backward, setup_context=_scale_setup)


def scale_add_relu(x: torch.Tensor, s: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
    """``relu(x * s[:, :, None, None] + shortcut)`` in one pass forward and one backward.

    ``x`` and ``shortcut`` are ``(N, C, H, W)``, ``s`` is ``(N, C)``; they are
    brought to one dtype (PyTorch's type promotion) and ``shortcut`` to the layout
    of ``x``, which the output keeps (channels-last or contiguous).
    """
    dtype = torch.promote_types(torch.promote_types(x.dtype, s.dtype), shortcut.dtype)
    return _scale_add_relu(x.to(dtype), s.to(dtype), shortcut.to(dtype))
