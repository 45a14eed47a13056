"""Triton kernels of the fused SE path; imported only where Triton is installed.

Every kernel sees a feature map as ``(N, HW, C)`` with strides
``(stride_n, stride_hw, stride_c)``: ``(C*HW, 1, HW)`` for a contiguous
(NCHW) map and ``(HW*C, C, 1)`` for a channels-last (NHWC) one, so one kernel
serves both layouts. A program handles a ``(BLOCK_HW, BLOCK_C)`` tile of one
sample; the reductions (the squeeze and the gradient of the excitation) give
each program a slice of the spatial positions and write a float32 partial sum
per slice, which :func:`reduce_hw` adds up afterwards (deterministically:
no atomics).

This module has no ``from __future__ import annotations``: Triton reads the
``tl.constexpr`` annotations of the kernels' parameters.
"""

import math
from dataclasses import dataclass

import torch
import triton
import triton.language as tl


@triton.jit
def _squeeze_kernel(
    x_ptr, partial_ptr, C, HW, hw_per_split, stride_n, stride_hw, stride_c,
    BLOCK_HW: tl.constexpr, BLOCK_C: tl.constexpr, ACC: tl.constexpr,
):  # fmt: skip
    """``partial[n, split, c] = sum of x[n, hw, c]`` over this program's slice of ``hw``."""
    n = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    split = tl.program_id(2)
    hw_start = split * hw_per_split
    base = x_ptr + n * stride_n + c[None, :] * stride_c
    acc = tl.zeros([BLOCK_HW, BLOCK_C], dtype=ACC)
    for offset in range(0, hw_per_split, BLOCK_HW):
        hw = hw_start + offset + tl.arange(0, BLOCK_HW)
        mask = (hw[:, None] < HW) & (c[None, :] < C)
        acc += tl.load(base + hw[:, None] * stride_hw, mask=mask, other=0.0).to(ACC)
    total = tl.sum(acc, axis=0)
    tl.store(partial_ptr + (n * tl.num_programs(2) + split) * C + c, total, mask=c < C)


@triton.jit
def _scale_add_relu_kernel(
    x_ptr, s_ptr, shortcut_ptr, out_ptr, C, HW, stride_n, stride_hw, stride_c,
    BLOCK_HW: tl.constexpr, BLOCK_C: tl.constexpr, ACC: tl.constexpr,
):  # fmt: skip
    """``out = relu(x * s[n, c] + shortcut)``: reads x and shortcut once, writes out once."""
    hw = tl.program_id(0) * BLOCK_HW + tl.arange(0, BLOCK_HW)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    n = tl.program_id(2).to(tl.int64)
    mask = (hw[:, None] < HW) & (c[None, :] < C)
    offsets = n * stride_n + hw[:, None] * stride_hw + c[None, :] * stride_c
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(ACC)
    shortcut = tl.load(shortcut_ptr + offsets, mask=mask, other=0.0).to(ACC)
    s = tl.load(s_ptr + n * C + c, mask=c < C, other=0.0).to(ACC)
    out = tl.maximum(x * s[None, :] + shortcut, 0.0, propagate_nan=tl.PropagateNan.ALL)  # as torch.relu
    tl.store(out_ptr + offsets, out.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _scale_add_relu_backward_kernel(
    grad_ptr, out_ptr, x_ptr, s_ptr, grad_x_ptr, grad_shortcut_ptr, partial_ptr,
    C, HW, hw_per_split, stride_n, stride_hw, stride_c,
    BLOCK_HW: tl.constexpr, BLOCK_C: tl.constexpr, ACC: tl.constexpr,
):  # fmt: skip
    """One pass over the map for all three gradients of ``relu(x * s + shortcut)``.

    With ``g = grad * (out > 0)``: ``grad_shortcut = g``, ``grad_x = g * s`` and
    ``partial[n, split, c] = sum of g * x`` over this program's slice of ``hw``.
    """
    n = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    split = tl.program_id(2)
    hw_start = split * hw_per_split
    s = tl.load(s_ptr + n * C + c, mask=c < C, other=0.0).to(ACC)
    acc = tl.zeros([BLOCK_HW, BLOCK_C], dtype=ACC)
    for offset in range(0, hw_per_split, BLOCK_HW):
        hw = hw_start + offset + tl.arange(0, BLOCK_HW)
        mask = (hw[:, None] < HW) & (c[None, :] < C)
        offsets = n * stride_n + hw[:, None] * stride_hw + c[None, :] * stride_c
        grad = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(ACC)
        out = tl.load(out_ptr + offsets, mask=mask, other=0.0)
        x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(ACC)
        g = tl.where(out > 0, grad, 0.0)
        tl.store(grad_shortcut_ptr + offsets, g.to(grad_shortcut_ptr.dtype.element_ty), mask=mask)
        tl.store(grad_x_ptr + offsets, (g * s[None, :]).to(grad_x_ptr.dtype.element_ty), mask=mask)
        acc += g * x
    total = tl.sum(acc, axis=0)
    tl.store(partial_ptr + (n * tl.num_programs(2) + split) * C + c, total, mask=c < C)


#: Triton was imported with ``TRITON_INTERPRET=1``: the kernels (and ``triton.language``'s own
#: jitted helpers such as ``tl.sum``) run on the CPU through Triton's interpreter. The variable
#: must be set before Triton is first imported.
INTERPRETED = all(type(f).__name__ == "InterpretedFunction" for f in (_squeeze_kernel, tl.zeros))


@dataclass(frozen=True)
class Launch:
    """Tile shape, spatial slices per sample and warps for one feature-map shape."""

    block_hw: int
    block_c: int
    splits: int  #: slices of HW per (sample, channel tile) in the reductions
    hw_per_split: int  #: a multiple of block_hw
    num_warps: int


def plan(n: int, c: int, hw: int, channels_last: bool, programs: int) -> Launch:
    """Choose tiles of about 4096 elements, wide along the contiguous axis.

    ``programs`` is how many programs the reductions should have to fill the
    device; samples times channel tiles short of it are made up by splitting HW.
    """
    elements = 4096
    if channels_last:
        block_c = min(triton.next_power_of_2(c), 128)
        block_hw = min(max(elements // block_c, 1), triton.next_power_of_2(hw))
    else:
        block_hw = min(triton.next_power_of_2(hw), 1024)
        block_c = min(max(elements // block_hw, 1), triton.next_power_of_2(c))
    hw_tiles = math.ceil(hw / block_hw)
    splits = max(1, min(hw_tiles, programs // max(n * math.ceil(c / block_c), 1)))
    hw_per_split = math.ceil(hw_tiles / splits) * block_hw
    splits = math.ceil(hw / hw_per_split)  # no empty slices
    return Launch(block_hw, block_c, splits, hw_per_split, 8 if block_hw * block_c >= 4096 else 4)


def strides(n: int, c: int, hw: int, channels_last: bool) -> tuple[int, int, int]:
    """``(stride_n, stride_hw, stride_c)`` of a dense map in the given layout."""
    return (hw * c, c, 1) if channels_last else (c * hw, 1, hw)


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _programs(device: torch.device) -> int:
    """Programs that fill the device: four per streaming multiprocessor (a few for the interpreter)."""
    if device.type != "cuda":
        return 4
    return 4 * torch.cuda.get_device_properties(device).multi_processor_count


def squeeze(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Per-(sample, channel) sums of a dense map ``x``, in float32 (float64 for float64 maps)."""
    n, c, h, w = x.shape
    hw = h * w
    launch = plan(n, c, hw, channels_last, _programs(x.device))
    acc = torch.promote_types(x.dtype, torch.float32)
    partial = torch.empty((n, launch.splits, c), dtype=acc, device=x.device)
    grid = (n, triton.cdiv(c, launch.block_c), launch.splits)
    _squeeze_kernel[grid](
        x, partial, c, hw, launch.hw_per_split, *strides(n, c, hw, channels_last),
        launch.block_hw, launch.block_c, _acc(x.dtype), num_warps=launch.num_warps,
    )  # fmt: skip
    return partial.sum(dim=1) if launch.splits > 1 else partial.view(n, c)


def scale_add_relu(
    x: torch.Tensor, s: torch.Tensor, shortcut: torch.Tensor, out: torch.Tensor, channels_last: bool
) -> None:
    """Write ``relu(x * s[:, :, None, None] + shortcut)`` into ``out`` (all dense, one layout)."""
    n, c, h, w = x.shape
    hw = h * w
    launch = plan(n, c, hw, channels_last, programs=0)
    grid = (triton.cdiv(hw, launch.block_hw), triton.cdiv(c, launch.block_c), n)
    _scale_add_relu_kernel[grid](
        x, s, shortcut, out, c, hw, *strides(n, c, hw, channels_last),
        launch.block_hw, launch.block_c, _acc(x.dtype), num_warps=launch.num_warps,
    )  # fmt: skip


def scale_add_relu_backward(
    grad: torch.Tensor,
    out: torch.Tensor,
    x: torch.Tensor,
    s: torch.Tensor,
    grad_x: torch.Tensor,
    grad_shortcut: torch.Tensor,
    channels_last: bool,
) -> torch.Tensor:
    """Fill ``grad_x`` and ``grad_shortcut``; return ``sum_hw grad * (out > 0) * x`` in float32."""
    n, c, h, w = x.shape
    hw = h * w
    launch = plan(n, c, hw, channels_last, _programs(x.device))
    partial = torch.empty(
        (n, launch.splits, c), dtype=torch.promote_types(x.dtype, torch.float32), device=x.device
    )
    grid = (n, triton.cdiv(c, launch.block_c), launch.splits)
    _scale_add_relu_backward_kernel[grid](
        grad, out, x, s, grad_x, grad_shortcut, partial, c, hw, launch.hw_per_split,
        *strides(n, c, hw, channels_last), launch.block_hw, launch.block_c, _acc(x.dtype), num_warps=launch.num_warps,
    )  # fmt: skip
    return partial.sum(dim=1) if launch.splits > 1 else partial.view(n, c)
