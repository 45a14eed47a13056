"""Results files: one JSON row per run, appended by runs and sweeps, read by the chapters.

Every row is checked as it is read (:func:`check_row`), so a damaged or
hand-edited file fails with the line and the field at fault, before any
training, instead of a ``KeyError`` after it or a seed counted twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..utils.errors import SETutorialError
from ..utils.files import append_line, atomic_write_text, read_text_locked

#: What every row holds, with the JSON type it must have; sweep rows add ``sweep`` and ``variant``.
REQUIRED = {"seed": int, "budget": str, "dataset": str, "test_accuracy": float}
SWEEP_KEYS = {"sweep": str, "variant": str}


class ResultsFileError(SETutorialError, ValueError):
    """A results file holds a line that is not a results row."""


class ResultsWriteError(SETutorialError, OSError):
    """A finished run's row could not be written (a full disk); the row was printed instead."""


def append_row(path: str | Path, row: dict) -> None:
    """Append ``row`` to the results file ``path``; if that fails, print it, so the run is not lost."""
    text = json.dumps(row)
    try:
        append_line(path, text)
    except OSError as error:
        print(text, flush=True)
        raise ResultsWriteError(
            f"could not append the finished run's row to {path} ({error.strerror or error}); the row is "
            "printed on stdout above: append it to the file yourself once there is room."
        ) from None


def write_row(path: str | Path, row: dict) -> None:
    """Write ``row`` as the JSON file ``path`` (atomically); if that fails, print it instead."""
    text = json.dumps(row, indent=2) + "\n"
    try:
        atomic_write_text(path, text)
    except OSError as error:
        print(text, end="", flush=True)
        raise ResultsWriteError(
            f"could not write the results row to {path} ({error.strerror or error}); it is printed on "
            "stdout above: save it from there."
        ) from None


def check_row(row: object, where: str) -> dict:
    """``row`` if it is a results row, else :class:`ResultsFileError` saying what ``where`` holds instead.

    >>> check_row({"seed": "0", "budget": "brief", "dataset": "x", "test_accuracy": 0.9}, "line 3")
    Traceback (most recent call last):
    ...
    se_tutorial.studies.results.ResultsFileError: line 3: seed must be a whole number, got '0' (a str); fix or remove the line.
    """
    if not isinstance(row, dict):
        raise ResultsFileError(
            f"{where} holds {json.dumps(row)[:40]} (a {type(row).__name__}), not a results row "
            "(a JSON object); fix or remove the line."
        )
    wanted = {**REQUIRED, **(SWEEP_KEYS if "sweep" in row or "variant" in row else {})}
    for key, kind in wanted.items():
        if key not in row:
            raise ResultsFileError(
                f"{where} has no {key!r}, which every results row has; fix or remove the line."
            )
        value = row[key]
        problem = None
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problem = "must be a whole number"
        elif kind is float and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            problem = "must be a finite number"
        elif kind is str and not isinstance(value, str):
            problem = "must be text"
        if problem:
            raise ResultsFileError(
                f"{where}: {key} {problem}, got {value!r} (a {type(value).__name__}); fix or remove the line."
            )
    return row


def read_rows(path: str | Path) -> list[dict]:
    """Rows already written to a JSON-lines results file (none if it does not exist), each checked."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        text = read_text_locked(path)
    except UnicodeDecodeError:
        raise ResultsFileError(
            f"{path} is not a results file: it is not UTF-8 text. Choose another --out, or remove it."
        ) from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ResultsFileError(
                    f"{path}, line {number}, is not valid JSON ({error}); fix or remove it."
                ) from None
            rows.append(check_row(row, f"{path}, line {number}"))
    return rows


def run_key(row: dict) -> tuple:
    """What makes two rows the same run of a sweep: sweep, variant, seed, budget, dataset, epochs, precision.

    Epochs and precision are in the key because a budget's recipe can change
    between versions of the book: a run of the older recipe is another run,
    never counted as done. (Rows written before rows recorded the precision
    have ``None`` there.)
    """
    return (
        row["sweep"], row["variant"], row["seed"], row["budget"], row["dataset"], row.get("epochs"),
        row.get("precision"),
    )  # fmt: skip
