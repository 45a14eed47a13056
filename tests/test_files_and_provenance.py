"""Atomic writes and provenance records."""

import pytest

from se_tutorial.files import atomic_write, atomic_write_text
from se_tutorial.provenance import provenance


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "result.json", "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]


def test_a_crash_while_writing_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "result.json", "good")

    def crash(file):
        file.write(b"half of a")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_provenance_names_commit_versions_device_and_date():
    record = provenance("cpu")
    assert set(record) == {"commit", "torch", "python", "device", "date"}
    assert record["device"].startswith("CPU") and record["date"].endswith("+00:00")
    assert record["commit"]


def test_atomic_write_gives_new_files_the_usual_mode_and_keeps_an_existing_ones(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "new.txt", "x")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o640)
        atomic_write_text(path, "y")
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)


def test_commit_is_dirty_for_changed_code_but_not_for_rewritten_results(tmp_path):
    import subprocess

    from se_tutorial.provenance import git_commit

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True)

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "code.py").write_text("a = 1\n")
    (tmp_path / "benchmarks" / "results" / "speed.json").write_text("{}\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "start")
    (tmp_path / "benchmarks" / "results" / "speed.json").write_text('{"ms": 1}\n')
    assert not git_commit(tmp_path / "benchmarks").endswith("+dirty")
    (tmp_path / "code.py").write_text("a = 2\n")
    assert git_commit(tmp_path / "benchmarks").endswith("+dirty")
    assert git_commit(tmp_path.parent / "not-a-repo-here") == "unknown"
