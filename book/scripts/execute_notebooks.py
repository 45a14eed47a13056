"""Execute the book's notebooks top to bottom in fresh kernels and store their outputs.

    python book/scripts/execute_notebooks.py [notebooks/01_equations.ipynb ...]

With no arguments every notebook in notebooks/ runs. The budget comes from
$SE_TUTORIAL_BUDGET as in the notebooks themselves (unset: brief), so stored outputs show real results of a real budget. Widget
state is not stored: the rendered book must not need JavaScript from the
network. Each notebook is written atomically, and only if it ran without error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from se_tutorial.utils.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=3600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    notebook.metadata.pop("widgets", None)  # nbclient keeps the state; the book must not load it
    atomic_write_text(path, nbformat.writes(notebook) + "\n")
    print(f"{path.relative_to(ROOT)}: {time.perf_counter() - started:.0f} s")


def main(arguments: list[str]) -> int:
    paths = [Path(a).resolve() for a in arguments] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
