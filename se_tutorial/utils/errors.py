"""The package's known errors.

Every error the package raises on purpose - bad data, a checkpoint that does
not fit, an output path that cannot be written, a run that diverged - derives
from :class:`SETutorialError` as well as from the built-in exception it is
(``FileNotFoundError``, ``ValueError``, ...), so callers can catch either.
The command line (:mod:`se_tutorial.cli`) prints such an error as one line
and exits with code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SETutorialError(Exception):
    """Base of every error whose message says what was wrong and how to fix it."""


class ConfigurationError(SETutorialError, ValueError):
    """An argument or setting is out of its range, or two of them contradict each other."""
