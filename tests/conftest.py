import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their fixtures module


@pytest.fixture(autouse=True)
def isolated_data_paths(tmp_path, monkeypatch):
    """Each test starts in an empty folder, with its own cache and no system dataset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SE_TUTORIAL_DATA", raising=False)
    monkeypatch.delenv("SE_TUTORIAL_BUDGET", raising=False)
    monkeypatch.setenv("SE_TUTORIAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("se_tutorial.data.SYSTEM_FASHION_MNIST_DIRS", [tmp_path / "no-system-copy"])
