"""The package's known errors, and how a command line reports them.

Every error the package raises on purpose - bad data, a checkpoint that does
not fit, an output path that cannot be written, a run that diverged - derives
from :class:`SETutorialError` as well as from the built-in exception it is
(``FileNotFoundError``, ``ValueError``, ...), so callers can catch either.
A command line prints such an error as one line and exits non-zero; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

#: The exit code of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT_CODE = 130


class SETutorialError(Exception):
    """Base of every error whose message says what was wrong and how to fix it."""


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a command line's ``body``; known errors become one line on stderr and exit code 1.

    Ctrl-C becomes the conventional exit code 130 with the interruption's own
    message (which says whether a checkpoint exists). Unexpected errors
    propagate with their traceback: they are bugs, and the traceback is the report.
    """
    try:
        return body()
    except SETutorialError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        print(f"{prog}: interrupted. {interrupt}".rstrip(), file=sys.stderr)
        return INTERRUPTED_EXIT_CODE


class ConfigurationError(SETutorialError, ValueError):
    """An argument or setting is out of its range, or two of them contradict each other."""
