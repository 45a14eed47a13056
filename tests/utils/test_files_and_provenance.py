"""Atomic writes, shared appends, output-path checks and provenance records."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from se_tutorial.utils.files import (
    OutputPathError,
    append_line,
    atomic_write,
    atomic_write_text,
    check_writable,
    claim,
    read_text_locked,
)
from se_tutorial.utils.provenance import device_name, git_commit, provenance


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
    assert record["device"] == device_name("cpu") and record["date"].endswith("+00:00")
    assert record["commit"]


def test_a_cpu_is_named_by_its_model_threads_and_instruction_sets(monkeypatch, tmp_path):
    from se_tutorial.utils import provenance as module

    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9R14\n"
        "flags\t\t: fpu avx2 avx512f avx512_bf16 sse\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 9R14\n"
    )
    real_path = module.Path
    monkeypatch.setattr(module, "Path", lambda p: info if p == "/proc/cpuinfo" else real_path(p))
    monkeypatch.setattr(module.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(module.platform, "machine", lambda: "x86_64")
    assert module.cpu_features() == ["AVX2", "AVX-512", "AVX512-BF16"]
    assert module.cpu_bfloat16()
    assert module.device_name("cpu") == (
        "AMD EPYC 9R14 (family 25 model 17, x86_64, 2 threads, AVX2, AVX-512, AVX512-BF16)"
    )
    info.write_text("model name\t: Old CPU\nflags\t\t: fpu avx2\n")
    assert not module.cpu_bfloat16() and module.device_name("cpu") == "Old CPU (x86_64, 2 threads, AVX2)"


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

    from se_tutorial.utils.provenance import git_commit

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
    assert git_commit(tmp_path.parent / "not-a-repo-here").startswith("unknown (not in a git checkout")


# --- appends that many processes share ----------------------------------------

ROOT = Path(__file__).resolve().parents[2]
APPENDER = """
import json, sys
from se_tutorial.utils.files import append_line
path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for index in range(count):
    append_line(path, json.dumps({"writer": writer, "index": index, "padding": "x" * 2000}))
"""


def python(*args, **options):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *args], env=env, **options)


@pytest.mark.slow
def test_processes_appending_at_once_keep_every_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    writers = [python("-c", APPENDER, str(path), str(w), "100") for w in range(3)]
    assert [writer.wait(timeout=120) for writer in writers] == [0] * 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((r["writer"], r["index"]) for r in rows) == [
        (str(w), i) for w in range(3) for i in range(100)
    ]


def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"b": ')  # a writer killed mid-line
    append_line(path, '{"c": 3}')
    assert path.read_text().splitlines() == ['{"a": 1}', '{"b": ', '{"c": 3}']
    assert read_text_locked(path) == path.read_text()


# --- temporaries of killed writers ----------------------------------------------

KILLED_WRITER = """
import sys, time
from pathlib import Path
from se_tutorial.utils.files import atomic_write

def write(file):
    file.write(b"half of a")
    file.flush()
    Path(sys.argv[2]).touch()  # tell the test the temporary exists
    time.sleep(120)

atomic_write(sys.argv[1], write)
"""


@pytest.mark.slow
def test_the_next_write_removes_the_temporary_of_a_killed_writer(tmp_path):
    path = atomic_write_text(tmp_path / "result.json", "good")
    ready = tmp_path / "ready"
    writer = python("-c", KILLED_WRITER, str(path), str(ready))
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline and writer.poll() is None:
        time.sleep(0.05)
    assert ready.exists(), "the writer never started writing"
    writer.send_signal(signal.SIGKILL)  # no cleanup can run
    writer.wait(timeout=30)
    orphans = list(tmp_path.glob(".result.json.*.tmp"))
    assert len(orphans) == 1 and f".{writer.pid}." in orphans[0].name
    # A live writer's temporary (this process's parent is alive) is left alone.
    live = tmp_path / f".result.json.{os.getppid()}.abc.tmp"
    live.write_bytes(b"in progress")

    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["result.json", "ready", live.name])


# --- output paths checked before any work ------------------------------------


def test_unwritable_output_paths_are_refused_up_front(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match=r"--out .*folder is a directory"):
        check_writable(tmp_path / "folder", "--out")
    with pytest.raises(OutputPathError, match=r"lies under .*file, which is a file"):
        check_writable(tmp_path / "file" / "deeper" / "run.json", "--out")
    with pytest.raises(OutputPathError, match="is a file, but a folder is needed"):
        check_writable(tmp_path / "file", "the cache", directory=True)
    with pytest.raises(OutputPathError, match=r"cannot be written: /proc refuses new files"):
        check_writable(Path("/proc/run.json"), "--out")  # read-only even for root
    fine = check_writable(tmp_path / "new" / "sub" / "run.json", "--out")
    assert fine.name == "run.json" and not (tmp_path / "new").exists()  # checked, nothing created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]


# --- provenance names the code that ran, or says it cannot ---------------------


def make_repo(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "-A"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=folder, check=True)
    return folder


def head(folder: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_provenance_of_a_clean_package_is_its_commit(tmp_path):
    repo = make_repo(tmp_path, {"pkg/__init__.py": "", "pkg/core.py": "a = 1\n"})
    assert git_commit(repo / "pkg") == head(repo)


def test_untracked_package_files_make_the_commit_dirty(tmp_path):
    repo = make_repo(tmp_path, {"pkg/__init__.py": "", "pkg/core.py": "a = 1\n"})
    (repo / "pkg" / "new_module.py").write_text("b = 2\n")
    assert git_commit(repo / "pkg") == head(repo) + "+dirty"


def test_a_package_copied_into_another_repository_is_not_given_its_commit(tmp_path):
    other = make_repo(tmp_path, {"README.md": "another project\n"})
    (other / "vendored" / "pkg").mkdir(parents=True)
    (other / "vendored" / "pkg" / "core.py").write_text("a = 1\n")
    commit = git_commit(other / "vendored" / "pkg")
    assert commit.startswith("unknown (") and "not tracked" in commit and head(other) not in commit


def test_an_installed_copy_in_an_ignored_virtual_environment_is_unknown(tmp_path):
    repo = make_repo(tmp_path, {".gitignore": ".venv/\n", "pkg/core.py": "a = 1\n"})
    installed = repo / ".venv" / "lib" / "site-packages" / "pkg"
    installed.mkdir(parents=True)
    (installed / "core.py").write_text("a = 1\n")
    assert git_commit(installed).startswith("unknown (")
    assert git_commit(repo / "pkg") == head(repo)


# --- claims: one process at a time ------------------------------------------------


def test_a_claim_is_held_by_one_holder_at_a_time(tmp_path):
    lock = tmp_path / "claims" / "run.lock"
    with claim(lock) as first:
        with claim(lock) as second:
            assert first and not second
    with claim(lock) as again:
        assert again


HOLDER = """
import sys, time
from pathlib import Path
from se_tutorial.utils.files import claim
with claim(Path(sys.argv[1])) as ours:
    Path(sys.argv[2]).write_text(str(ours))
    time.sleep(120)
"""


@pytest.mark.slow
def test_a_killed_holder_leaves_no_stale_claim(tmp_path):
    lock, ready = tmp_path / "run.lock", tmp_path / "ready"
    holder = python("-c", HOLDER, str(lock), str(ready))
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.read_text() == "True"
    with claim(lock) as ours:
        assert not ours
    holder.send_signal(signal.SIGKILL)  # no cleanup can run
    holder.wait(timeout=30)
    with claim(lock) as ours:
        assert ours
