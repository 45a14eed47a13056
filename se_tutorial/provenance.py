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


def git_commit(cwd: str | Path | None = None) -> str:
    """The current commit, with ``+dirty`` if tracked files other than results changed, or ``"unknown"``."""
    cwd = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        # Results files that a run rewrites do not make the code it ran "dirty".
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":(top)",
                ":(top,exclude)*results/*",
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"  # installed from a wheel, or git is missing
    return commit + ("+dirty" if dirty else "")


def device_name(device: torch.device | str | None = None) -> str:
    """A readable name: the GPU model, or the CPU with its thread count."""
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {torch.get_num_threads()} threads)"


def provenance(device: torch.device | str | None = None) -> dict[str, str]:
    """Commit, versions, device and UTC time, as strings."""
    return {
        "commit": git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device_name(device),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
