"""Reading a file that ``torch.save`` wrote, safely: tensors and plain values only, and one clear error.

``torch.load(weights_only=True)`` refuses pickled code, but its errors speak
of unpickling and even advise ``weights_only=False``, which would run the
file's code. :func:`load_saved` says instead, in one sentence, why a file is
not what the caller expected: missing, empty, truncated, damaged, holding
code, not a dictionary, or lacking entries.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from .errors import SETutorialError


def load_saved(
    path: Path,
    required: Iterable[str],
    error: Callable[[str], SETutorialError],
    *,
    weights_hint: str,
) -> dict:
    """The dictionary ``torch.save`` wrote to ``path``, with the ``required`` entries.

    Anything else raises ``error(reason)``, where ``reason`` completes a
    sentence such as "... is not a checkpoint: {reason}". ``weights_hint`` is
    said when the file holds a bare ``state_dict`` instead.
    """
    if not path.is_file():
        raise error("there is no such file" if not path.exists() else "it is a folder, not a file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before failing; we say it once
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not zipfile.is_zipfile(path):  # torch.save writes zip archives; anything else is damaged
            raise error("it is damaged or in an unknown format") from None
        # torch's own message advises weights_only=False, which would run the file's code: not ours.
        raise error(
            "it holds Python objects other than tensors and plain values, which a safe load refuses"
        ) from None
    except (
        EOFError,
        RuntimeError,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        IndexError,
        UnicodeDecodeError,
    ) as e:
        empty = path.stat().st_size == 0
        raise error("it is empty" if empty else f"it is truncated or damaged ({type(e).__name__})") from None
    if not isinstance(state, dict):
        raise error(f"it holds a {type(state).__name__}, not a dictionary")
    missing = sorted(set(required) - set(state))
    if missing:
        looks_like_weights = bool(state) and all(isinstance(value, torch.Tensor) for value in state.values())
        raise error(weights_hint if looks_like_weights else f"it lacks the entries {missing}")
    return state
