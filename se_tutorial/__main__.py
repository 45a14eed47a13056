"""``python -m se_tutorial``: the command line of :mod:`se_tutorial.cli`."""

import signal
import sys

_interrupted: list[int] = []


def _note_interrupt(signum: int, _frame: object) -> None:
    _interrupted.append(signum)
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Importing torch takes a moment; Ctrl-C then gets the command line's one line too. An
    # interrupt inside a half-imported library can surface as another error (numpy's module
    # __getattr__ recursing, say), so any failure after an interrupt counts as the interrupt.
    previous = signal.signal(signal.SIGINT, _note_interrupt)
    try:
        from .cli import main
    except BaseException:
        if not _interrupted:
            raise
        print("python -m se_tutorial: interrupted while starting; nothing was done.", file=sys.stderr)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)
    sys.exit(main())
