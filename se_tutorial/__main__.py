"""``python -m se_tutorial``: the command line of :mod:`se_tutorial.cli`."""

import sys

if __name__ == "__main__":
    try:  # importing torch takes a moment; Ctrl-C then gets the command line's one line too
        from .cli import main
    except KeyboardInterrupt:
        print("python -m se_tutorial: interrupted while starting; nothing was done.", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
