"""A chapter run the way Colab runs it: the package from a built wheel, the notebook alone, results over HTTP.

No clone is around the notebook, so every results file it reads must come
from the repository over the network; here a server on 127.0.0.1 holds the
repository's results files in its place (``$SE_TUTORIAL_REPOSITORY_FILES``).
"""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "06_ablations.ipynb"

EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(notebook, path)
"""


def clean_environment(folder: Path) -> Path:
    """A new virtual environment that sees the project's dependencies but not its source tree."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    # A plain path in a .pth file adds torch & co., without running the editable install's hook.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture
def repository_server(tmp_path):
    """The repository's results files, served as <ref>/<path> on 127.0.0.1; yields (address, requests)."""
    mirror = tmp_path / "mirror" / "main"
    for folder in ("book/results", "benchmarks/results"):
        shutil.copytree(ROOT / folder, mirror / folder)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            requests.append(self.path)

    handler = functools.partial(Handler, directory=str(tmp_path / "mirror"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()


def test_a_chapter_runs_from_the_wheel_alone_and_fetches_its_results(tmp_path, repository_server):
    address, requests = repository_server
    source, wheels = tmp_path / "source", tmp_path / "wheels"  # built from a copy: the tree stays clean
    shutil.copytree(
        ROOT / "se_tutorial", source / "se_tutorial", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         str(source)], check=True, capture_output=True,
    )  # fmt: skip
    python = clean_environment(tmp_path / "colab")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (wheel,) = wheels.glob("se_tutorial-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", site, str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    alone = tmp_path / "content"  # Colab's working folder: the notebook and nothing else
    alone.mkdir()
    notebook = alone / CHAPTER.name
    shutil.copy(CHAPTER, notebook)
    env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "SE_TUTORIAL_DATA")
    } | {
        "SE_TUTORIAL_BUDGET": "brief", "SE_TUTORIAL_REPOSITORY_FILES": address,
        "SE_TUTORIAL_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg",
    }  # fmt: skip
    where = subprocess.run(
        [str(python), "-c", "import se_tutorial; print(se_tutorial.__file__)"],
        env=env, cwd=alone, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(site), f"se_tutorial came from {where}, not from the wheel"
    result = subprocess.run(
        [str(python), "-c", EXECUTE, str(notebook), str(alone)], env=env, cwd=alone, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert "/main/book/results/ablations_brief.jsonl" in requests
    assert "/main/benchmarks/results/ablation_cost_cpu.json" in requests
    executed = nbformat.read(notebook, as_version=4)
    text = "".join(
        output.get("text", "")
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "budget: brief" in text and "runs, brief budget" in text
    assert sorted(p.name for p in alone.iterdir()) == [CHAPTER.name]  # nothing written beside it
