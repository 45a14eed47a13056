"""Where a number came from: commit, versions, device and date.

Every results row and benchmark file carries this record, so a number in the
book can always be traced to the code and machine that produced it.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from pathlib import Path

import torch


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=30
    ).stdout


def git_commit(code: str | Path | None = None) -> str:
    """The commit of the code in folder ``code`` (default: this package), as honestly as git can tell.

    * ``"<commit>"``: the folder is tracked at that commit and nothing changed;
    * ``"<commit>+dirty"``: tracked files other than results changed, or the
      folder holds code files git does not track (they ran, but no commit has them);
    * ``"unknown (<why>)"``: git is missing, the folder is in no checkout, or
      it is in a checkout that does not track it - a copy pasted into another
      repository, or an installed copy in a virtual environment's site-packages.
    """
    code = Path(code).resolve() if code else Path(__file__).resolve().parents[1]  # the package
    try:
        commit = _git(code, "rev-parse", "--short=12", "HEAD").strip()
        top = _git(code, "rev-parse", "--show-toplevel").strip()
        tracked = set(_git(code, "ls-files", "-z", "--", ".").split("\0")) - {""}
        not_tracked = _git(code, "ls-files", "-z", "--others", "--", "*.py").split("\0")
        # Results files that a run rewrites do not make the code it ran "dirty".
        dirty = _git(
            code, "status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)*results/*"
        ).strip()
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "unknown (not in a git checkout, or git is missing)"
    if not tracked:
        return (
            f"unknown ({code} is not tracked by the git repository at {top}: a copy or an installed package)"
        )
    untracked_code = [name for name in not_tracked if name and "__pycache__" not in name]
    return commit + ("+dirty" if dirty or untracked_code else "")


def device_name(device: torch.device | str | None = None) -> str:
    """A readable name that tells machines apart: the GPU model, or the CPU's model, threads and instruction sets.

    Two CPUs of one kind can train to slightly different numbers (their maths
    libraries pick kernels by instruction set), so a CPU is named by its model,
    its family and model numbers (two generations of a cloud's "AMD EPYC" may
    differ only there) and the instruction sets of
    :data:`CPU_FEATURES` it has, e.g.
    ``"AMD EPYC (family 26 model 2, x86_64, 2 threads, AVX2, AVX-512, AVX512-BF16)"``.
    """
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    info = _cpu_info()
    model = info.get("model name") or platform.processor() or "CPU"
    # Family and model numbers tell generations apart where the name does not ("AMD EPYC").
    generation = [f"family {info['cpu family']} model {info['model']}"] if "cpu family" in info else []
    details = [*generation, platform.machine(), _count(torch.get_num_threads(), "thread"), *cpu_features()]
    return f"{model} ({', '.join(details)})"


def provenance(device: torch.device | str | None = None) -> dict[str, str]:
    """Commit, versions, device and UTC time, as strings."""
    return {
        "commit": git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device_name(device),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _count(number: int, noun: str) -> str:
    """``"1 thread"``, ``"2 threads"``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cpu_info() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (Linux), else nothing."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


#: Instruction sets that change how fast (and how exactly) a CPU trains: flag in /proc/cpuinfo -> name.
CPU_FEATURES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16"}


def cpu_features() -> list[str]:
    """The instruction sets of :data:`CPU_FEATURES` this CPU has, by name (empty where unknown)."""
    flags = set(_cpu_info().get("flags", "").split())
    return [name for flag, name in CPU_FEATURES.items() if flag in flags]


def cpu_bfloat16() -> bool:
    """Whether this CPU has bfloat16 arithmetic instructions (AVX512-BF16 or AMX), read, not assumed."""
    return bool({"AVX512-BF16", "AMX-BF16"} & set(cpu_features()))
