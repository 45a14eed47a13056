"""The SE tail as a compiled CPU kernel: ``se_tail.c``, built on first use and called through ctypes.

On the book's small maps (128 x 16 x 14 x 14 and less) SE's cost on a CPU is
not its arithmetic but the dozen PyTorch operations it takes, each a pass
over the map with its own dispatch. ``se_tail.c`` does the squeeze, the
excitation, the scale, the shortcut and the ReLU in one pass per sample (and
the backward in one more), which removes most of SE's extra step time on the
book's brief network (``benchmarks/results/cpu_se_overhead.json`` measures how
much).

The C file is compiled with the system's C compiler (``$CC``, else ``cc``)
into :func:`~se_tutorial.utils.files.cache_dir`, once per dtype (float32 and
float64), compiler and CPU, with ``-O3 -march=native -fopenmp`` (never
``-ffast-math``: in a shared library GCC's version of it switches the whole
process to flushing denormals to zero). Where there is no compiler, or no
OpenMP, or the kernel would bring an OpenMP runtime other than PyTorch's (its
threads would then fight PyTorch's for the cores), :func:`library` returns
``None``, :func:`unavailable` says why, and :mod:`.cpu` computes the same
tail with PyTorch operations. ``SE_TUTORIAL_CPU_KERNEL=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import torch

from ...utils.files import cache_dir

SOURCE = Path(__file__).with_name("se_tail.c")
FLAGS = ("-O3", "-fno-math-errno", "-fopenmp", "-shared", "-fPIC")
C_TYPES = {torch.float32: "float", torch.float64: "double"}

_libraries: dict[torch.dtype, ctypes.CDLL | None] = {}
_problems: dict[torch.dtype, str] = {}
_enabled = os.environ.get("SE_TUTORIAL_CPU_KERNEL", "1") != "0"


def library(dtype: torch.dtype) -> ctypes.CDLL | None:
    """The compiled kernels for maps of ``dtype`` (built on first use), or ``None`` where they cannot run."""
    if not _enabled or dtype not in C_TYPES:
        return None
    if dtype not in _libraries:
        try:
            _libraries[dtype] = _bind(ctypes.CDLL(str(_build(dtype))))
            problem = _foreign_openmp()
        except (OSError, subprocess.SubprocessError, RuntimeError) as error:
            _libraries[dtype], problem = None, str(error)
        if problem:
            _libraries[dtype], _problems[dtype] = None, problem
    return _libraries[dtype]


def unavailable(dtype: torch.dtype = torch.float32) -> str | None:
    """Why the kernels do not run for ``dtype`` (``None`` when they do)."""
    if not _enabled:
        return "turned off (SE_TUTORIAL_CPU_KERNEL=0, or inside cpu_kernel.disabled())"
    if dtype not in C_TYPES:
        return f"the kernels are built for float32 and float64 maps, not {dtype}"
    return None if library(dtype) is not None else _problems.get(dtype, "not built")


@contextmanager
def disabled():
    """Within the block, :mod:`.cpu` computes the tail with PyTorch operations (to compare the two)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def _build(dtype: torch.dtype) -> Path:
    """Compile ``se_tail.c`` for ``dtype`` unless this compiler and CPU already have it; returns the library."""
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        raise RuntimeError(f"no C compiler ({os.environ.get('CC', 'cc')!r} is not on PATH); install gcc")
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    source = SOURCE.read_bytes()
    # -march=native code runs only on CPUs like this one, so the CPU is part of the name.
    key = hashlib.sha256(b"\0".join([source, version.encode(), " ".join(FLAGS).encode(),
                                     C_TYPES[dtype].encode(), _cpu_identity()])).hexdigest()[:16]  # fmt: skip
    target = cache_dir() / "kernels" / f"se_tail_{C_TYPES[dtype]}_{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    command = [compiler, *FLAGS, f"-DREAL={C_TYPES[dtype]}", str(SOURCE), "-o", str(partial), "-lm"]
    result = subprocess.run([*command[:1], "-march=native", *command[1:]], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    if result.returncode != 0:  # a compiler without -march=native: the portable build
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(
            f"{Path(compiler).name} could not build {SOURCE.name}: {result.stderr.strip()[-400:]}"
        )
    os.replace(partial, target)  # atomic: another process sees the old state or the whole library
    return target


def _cpu_identity() -> bytes:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return os.uname().machine.encode()
    return "\n".join(line for line in lines[:30] if line.startswith(("model name", "flags"))).encode()


def _foreign_openmp() -> str | None:
    """A problem if the process now holds two OpenMP runtimes (Linux; elsewhere it cannot tell)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    runtimes = {line.split()[-1] for line in maps.splitlines() if "libgomp" in line or "libiomp" in line}
    if len(runtimes) > 1:
        return f"the kernel's OpenMP is not PyTorch's ({', '.join(sorted(runtimes))}): their threads would compete"
    return None


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    lib.se_forward.argtypes = [pointer] * 11 + [size] * 4 + [ctypes.c_int]
    lib.se_backward.argtypes = [pointer] * 16 + [size] * 4 + [ctypes.c_int]
    lib.se_forward.restype = lib.se_backward.restype = None
    return lib


def _address(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def forward(lib, x, shortcut, w1, b1, w2, b2) -> tuple[torch.Tensor, torch.Tensor]:
    """``relu(x * se(x) + shortcut)`` for channels-last ``(N, C, H, W)`` maps; returns it and the statistics.

    The statistics are what :func:`backward` needs, in one buffer: z and s
    ``(N, C)``, h ``(N, R)`` and W2 transposed ``(R, C)``.
    """
    (n, c, height, width), r = x.shape, w1.shape[0]
    out = torch.empty_like(x)  # channels-last, as x is
    stats = x.new_empty(n * (2 * c + r) + r * c)
    z, s, h, w2t = _offsets(stats, n * c, n * c, n * r)
    lib.se_forward(x.data_ptr(), shortcut.data_ptr(), w1.data_ptr(), _address(b1), w2.data_ptr(),
                   _address(b2), out.data_ptr(), z, h, s, w2t, n, height * width, c, r,
                   torch.get_num_threads())  # fmt: skip
    return out, stats


def backward(lib, grad, out, x, stats, w1, w2, has_bias: tuple[bool, bool]) -> tuple:
    """The gradients of :func:`forward`'s inputs, in its argument order (``None`` for a missing bias)."""
    (n, c, height, width), r = x.shape, w1.shape[0]
    grad = grad.contiguous(memory_format=torch.channels_last)
    grad_shortcut, grad_x = torch.empty_like(out), torch.empty_like(out)
    grad_w1, grad_w2 = torch.empty_like(w1), torch.empty_like(w2)
    grad_b1 = w1.new_empty(r) if has_bias[0] else None
    grad_b2 = w2.new_empty(c) if has_bias[1] else None
    scratch = x.new_empty(n * (c + r))  # d a2 (N, C), then d a1 (N, R)
    da2, da1 = _offsets(scratch, n * c)
    z, s, h, w2t = _offsets(stats, n * c, n * c, n * r)
    lib.se_backward(grad.data_ptr(), out.data_ptr(), x.data_ptr(), z, h, s, w1.data_ptr(), w2t,
                    grad_shortcut.data_ptr(), grad_x.data_ptr(), da2, da1,
                    grad_w1.data_ptr(), grad_w2.data_ptr(), _address(grad_b1), _address(grad_b2),
                    n, height * width, c, r, torch.get_num_threads())  # fmt: skip
    return grad_x, grad_shortcut, grad_w1, grad_b1, grad_w2, grad_b2


def _offsets(buffer: torch.Tensor, *sizes: int) -> list[int]:
    """Addresses of consecutive parts of ``buffer``: its start, then after each of ``sizes`` elements."""
    address, step, addresses = buffer.data_ptr(), buffer.element_size(), [buffer.data_ptr()]
    for size in sizes:
        address += size * step
        addresses.append(address)
    return addresses
