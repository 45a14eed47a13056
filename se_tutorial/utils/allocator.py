"""Keeping freed memory for the next training step, on Linux CPUs.

glibc hands every block larger than its mmap threshold straight back to the
operating system when it is freed. A training step frees its activations and
gradients (a few megabytes each) and allocates the same sizes again in the
next step, so on a CPU every step maps fresh pages and takes a page fault on
the first touch of each: thousands of faults per step of the book's networks
(``benchmarks/cpu_levers.py`` measures what keeping them saves).
Raising the threshold keeps those blocks in the process's heap for reuse, and
raising the trim threshold keeps the heap from being handed back between steps.

CUDA memory has PyTorch's own caching allocator and needs none of this.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

#: glibc's ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit systems: blocks up to 32 MiB stay in the heap.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of the heap is kept until there is this much of it.
TRIM_THRESHOLD = 1024 * 1024 * 1024


def reuse_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MiB for reuse; ``True`` if it agreed.

    Process-wide and lasting (glibc's own adaptive thresholds do not come
    back): memory a run freed stays reserved for the process, up to 1 GiB at
    the top of its heap. A no-op returning ``False`` where the C library is not
    glibc (macOS, Windows, musl).
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # mallopt returns 1 on success, 0 on error.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@functools.cache
def _mallopt():
    """glibc's ``mallopt``, or ``None`` where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # no libc by that name, or one without mallopt
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
