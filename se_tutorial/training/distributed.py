"""Helpers that make the same code run on one process or under ``torchrun``.

On one process they are no-ops; with ``torch.distributed`` initialised they
report this process's rank and sum tensors across processes.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world_size)``: ``(0, 1)`` unless ``torch.distributed`` is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes, in place; returns it."""
    if world()[1] > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


# No annotations: DDP compares them with the real classes, and this module's are strings.
def per_parameter_allreduce(state, bucket):  # (object, dist.GradBucket) -> Future[Tensor]
    """A DDP communication hook: average each parameter's gradient on its own.

    DDP's default hook averages a whole bucket of gradients at once, and
    regroups its buckets after the first step. How a sum over ranks is split
    up depends on where a gradient sits in its bucket, so after a resume (whose
    first step has the original buckets) the sums round differently, and a
    resumed run drifts from an uninterrupted one. Averaging each gradient on
    its own makes every sum independent of the buckets: resuming is exact.
    """
    world_size = dist.get_world_size()
    for gradient in bucket.gradients():  # views into the bucket's buffer
        dist.all_reduce(gradient.div_(world_size))
    future = torch.futures.Future()
    future.set_result(bucket.buffer())
    return future
