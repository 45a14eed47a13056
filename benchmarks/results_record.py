"""One way for every benchmark to write its results: with provenance, atomically."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from se_tutorial.utils.files import atomic_write_text
from se_tutorial.utils.provenance import provenance


def write_results(path: str | Path, benchmark: str, device: torch.device | str, **fields: object) -> Path:
    """Write ``fields`` as JSON to ``path`` after the benchmark's name, provenance and thread count."""
    record = {"benchmark": benchmark, **provenance(device), "threads": torch.get_num_threads(), **fields}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return Path(path)
