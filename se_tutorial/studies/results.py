"""Results files: one JSON row per run, appended by runs and sweeps, read by the chapters."""

from __future__ import annotations

import json
from pathlib import Path

from ..utils.errors import SETutorialError
from ..utils.files import read_text_locked


class ResultsFileError(SETutorialError, ValueError):
    """A results file holds a line that is not JSON."""


def read_rows(path: str | Path) -> list[dict]:
    """Rows already written to a JSON-lines results file (none if it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(read_text_locked(path).splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ResultsFileError(
                    f"{path}, line {number}, is not valid JSON ({error}); fix or remove it."
                ) from None
    return rows
