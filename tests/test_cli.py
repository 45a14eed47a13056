"""The command line: python -m se_tutorial train / sweep, under torchrun, with Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import write_fashion_mnist

from se_tutorial import ATTENTION_LAYERS
from se_tutorial.cli import main, parser
from se_tutorial.studies.runs import resolve_model
from se_tutorial.training import BUDGETS

ROOT = Path(__file__).resolve().parents[1]


def test_one_command_line_with_two_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0 and "train" in text and "sweep" in text
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2 and "the following arguments are required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0 and all(o in text for o in ("--seeds", "--variants", "placement"))


def test_a_bad_argument_prints_the_subcommands_own_usage(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "se-and-init", "--out", "x.jsonl", "--variants", "nope"])
    error = capsys.readouterr().err
    assert error.startswith("usage: python -m se_tutorial sweep") and "has no variant 'nope'" in error


def test_cli_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--attention", "--dataset", "--budget", "--seed", "--out", "--resume"):
        assert option in text


@pytest.mark.parametrize("name", ["none", *ATTENTION_LAYERS])
def test_train_accepts_every_registered_attention_module(name):
    args = parser().parse_args(["train", "--attention", name])
    assert args.attention == name
    if name != "none":  # what _train hands to run(): the budget's network with this module
        spec = resolve_model({"attention": name}, BUDGETS["smoke"], seed=0)
        assert spec.attention == name and spec.to_row()["attention"] == name


def test_train_rejects_an_unregistered_attention_module(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--attention", "nl"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "invalid choice: 'nl'" in error and "'coord'" in error


@pytest.mark.slow
def test_cli_smoke_run_writes_a_results_row_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    out = tmp_path / "results" / "run.json"
    assert (
        main(
            [
                "train",
                "--budget",
                "smoke",
                "--attention",
                "se",
                "--seed",
                "1",
                "--no-progress",
                "--precision",
                "bfloat16",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    row = json.loads(out.read_text())
    assert row["attention"] == "se" and row["budget"] == "smoke" and row["seed"] == 1
    assert row["precision"] == "bfloat16"
    assert 0 <= row["test_accuracy"] <= 1 and len(row["history"]) == BUDGETS["smoke"].epochs
    for key in ("commit", "torch", "device", "date", "wall_seconds", "data_source"):
        assert row[key], key


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes(tmp_path):
    data = write_fashion_mnist(tmp_path / "fmnist")
    out = tmp_path / "ddp.json"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "se_tutorial", "train", "--budget", "smoke", "--attention", "se", "--no-progress", "--out", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads(out.read_text())
    assert row["world_size"] == 2 and 0 <= row["test_accuracy"] <= 1


@pytest.mark.slow
def test_sweep_command_line_prints_a_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    out = tmp_path / "sweep.jsonl"
    assert (
        main(
            [
                "sweep",
                "se-and-init",
                "--seeds",
                "3",
                "--budget",
                "smoke",
                "--no-progress",
                "--out",
                str(out),
                "--variants",
                "resnet",
                "se-resnet",
            ]
        )
        == 0
    )
    summary = capsys.readouterr().out
    assert "se-resnet" in summary and "resnet" in summary and "smoke" in summary
    assert [json.loads(line)["seed"] for line in out.read_text().splitlines()] == [3, 3]


@pytest.mark.slow
def test_cli_learning_rate_300_on_the_smoke_budget_fails_and_keeps_no_checkpoint(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist", train=1024)))
    checkpoint = tmp_path / "run.pt"
    argv = ["--budget", "smoke", "--lr", "300", "--no-progress", "--checkpoint", str(checkpoint)]
    assert main(["train", *argv]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert re.search(r"at epoch 1, step \d+ \(learning rate [0-9.e+]+\); the run diverged", error)
    assert "No checkpoint was written" in error and not checkpoint.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "argument --epochs: epochs must be a positive integer"),
        (["--epochs", "1.5"], "argument --epochs: expected a whole number"),
        (["--lr", "0"], "argument --lr: lr must be a positive finite number"),
        (["--lr", "nan"], "argument --lr: lr must be a positive finite number"),
        (["--seed", "-1"], "seed must be a whole number from 0 to 4294967295, got -1"),
        (["--seed", str(2**32)], "seed must be a whole number from 0 to 4294967295"),
        (["--resume"], "--resume needs --checkpoint PATH"),
        (["--out", "."], "--out . is a directory"),
        (["--out", "a-file/run.json"], "lies under a-file, which is a file"),
        (["--checkpoint", "a-file"], "--checkpoint a-file already exists.*--resume.*remove the file"),
        (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8'"),
    ],
)
def test_cli_rejects_bad_arguments_before_loading_any_data(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))  # loading would fail
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--budget", "smoke", "--no-progress", *argv])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_cli_rejects_an_unknown_budget_in_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_BUDGET", "huge")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--no-progress"])
    assert (
        exit_info.value.code == 2 and "unknown budget (SE_TUTORIAL_BUDGET) 'huge'" in capsys.readouterr().err
    )


def test_cli_known_errors_are_one_line_and_unexpected_ones_keep_their_traceback(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))
    assert main(["train", "--budget", "smoke", "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("python -m se_tutorial train: error: $SE_TUTORIAL_DATA is set to")
    assert error.count("\n") == 1 and "Traceback" not in error

    def bug(*arguments, **options):
        raise RuntimeError("a bug, not a known error")

    monkeypatch.setattr("se_tutorial.cli.run", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["train", "--budget", "smoke", "--no-progress"])


INTERRUPTIBLE = """
import signal, sys, time
from pathlib import Path
# Python ignores Ctrl-C if it started with SIGINT ignored (as a shell's background job
# does); install the usual handler, so the test does not depend on how it was launched.
signal.signal(signal.SIGINT, signal.default_int_handler)
from se_tutorial.cli import main
from se_tutorial.data import DeviceLoader


pause_epoch, ready = int(sys.argv[1]), Path(sys.argv[2])
original = DeviceLoader.__iter__


def pausing(loader):
    for step, batch in enumerate(original(loader)):
        if loader.shuffle and loader.epoch == pause_epoch and step == 1:
            ready.touch()  # tell the test where we are, then wait for its Ctrl-C
            time.sleep(120)
        yield batch


DeviceLoader.__iter__ = pausing
sys.exit(main(["train", *sys.argv[3:]]))
"""


def paused_training(tmp_path, pause_epoch: int, *options: str) -> subprocess.Popen:
    """A smoke training in a child process, paused in epoch ``pause_epoch`` until a signal comes."""
    data = write_fashion_mnist(tmp_path / "fmnist", train=256, test=128)
    ready = tmp_path / "ready"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    argv = ["--budget", "smoke", "--epochs", "2", "--no-progress", *options]
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE, str(pause_epoch), str(ready), *argv],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), process.communicate()[1][-3000:]
    return process


@pytest.mark.parametrize(
    ("pause_epoch", "expected"),
    [
        (0, "before its first epoch ended; no checkpoint exists yet"),
        (1, r"last finished epoch \(1\) is saved in .*run\.pt\. Continue from it with --resume"),
    ],
    ids=["in-the-first-epoch", "in-the-second-epoch"],
)
@pytest.mark.slow
def test_ctrl_c_exits_130_and_says_what_the_checkpoint_holds(pause_epoch, expected, tmp_path):
    checkpoint = tmp_path / "run.pt"
    process = paused_training(tmp_path, pause_epoch, "--checkpoint", str(checkpoint))
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130, error[-3000:]
    assert re.search(expected, error) and "Traceback" not in error
    assert checkpoint.exists() == (pause_epoch == 1)


#: The factorial's two standard-init networks on the smoke budget, as a command line (seeds and --out follow).
SMOKE_SWEEP = [sys.executable, "-m", "se_tutorial", "sweep", "se-and-init", "--budget", "smoke",
               "--variants", "resnet", "se-resnet"]  # fmt: skip


@pytest.mark.slow
def test_concurrent_sweeps_into_one_file_keep_every_row(tmp_path):
    data = write_fashion_mnist(tmp_path / "fmnist", train=384, test=128)
    out = tmp_path / "sweep.jsonl"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = SMOKE_SWEEP
    sweeps = [
        subprocess.Popen(
            [*command, "--seeds", seed, "--no-progress", "--out", str(out)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("0", "1")
    ]
    for sweep in sweeps:
        _, error = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, error[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["seed"], r["variant"]) for r in rows) == [
        (0, "resnet"), (0, "se-resnet"), (1, "resnet"), (1, "se-resnet"),
    ]  # fmt: skip


def test_sweep_command_line_rejects_bad_seeds_and_reports_a_damaged_file_in_one_line(tmp_path, capsys):
    out = tmp_path / "sweep.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "se-and-init", "--seeds", "-3", "--out", str(out)])
    assert exit_info.value.code == 2 and "seed must be a whole number from 0" in capsys.readouterr().err
    good = {"sweep": "se-and-init", "variant": "resnet", "seed": 0, "budget": "smoke", "dataset": "x",
            "test_accuracy": 0.9}  # fmt: skip
    out.write_text(json.dumps(good) + "\n{broken\n")
    assert main(["sweep", "se-and-init", "--seeds", "0", "--budget", "smoke", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("python -m se_tutorial sweep: error: ") and "line 2, is not valid JSON" in error
    assert error.count("\n") == 1


# --- nothing lost, nothing misleading (round two) ------------------------------------


def test_a_sweep_refuses_torchrun_before_doing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "se-and-init", "--budget", "smoke", "--out", str(tmp_path / "rows.jsonl")])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "does not run under torchrun" in error
    assert not (tmp_path / "rows.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["sweep", "reduction-ratio", "--variants", "r=32"],
            "r=32 cannot be built on the smoke budget: 16 channels",
        ),
        (["train", "--lr", "1e300"], r"lr must be at most 3.4e\+38 \(float32's largest number"),
        (["train", "--lr", "1e39"], "lr must be at most"),
    ],
    ids=["unbuildable-variant", "lr-1e300", "lr-1e39"],
)
def test_arguments_that_cannot_work_are_refused_before_any_data(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))  # loading would fail
    command, *rest = argv
    extra = ["--out", str(tmp_path / "rows.jsonl")] if command == "sweep" else []
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--budget", "smoke", *rest, *extra])
    assert exit_info.value.code == 2 and re.search(message, capsys.readouterr().err)


def test_an_unknown_budget_in_the_environment_is_refused_by_the_sweep_too(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_BUDGET", "tiny")
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "se-and-init", "--out", str(tmp_path / "rows.jsonl")])
    assert (
        exit_info.value.code == 2 and "unknown budget (SE_TUTORIAL_BUDGET) 'tiny'" in capsys.readouterr().err
    )


def test_a_checkpoint_another_run_trains_into_is_refused_at_once(tmp_path, capsys):
    from se_tutorial.training.checkpoints import lock_path
    from se_tutorial.utils.files import claim

    checkpoint = tmp_path / "run.pt"
    with claim(lock_path(checkpoint)), pytest.raises(SystemExit) as exit_info:
        main(["train", "--budget", "smoke", "--checkpoint", str(checkpoint)])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "another run is training into --checkpoint" in error


def full_disk(monkeypatch, tmp_path, writer: str) -> None:
    """Data for a smoke run, and a disk that is full for se_tutorial.studies.results' ``writer``."""
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))

    def full(path, text):
        raise OSError(28, "No space left on device")  # ENOSPC, as a full disk raises it

    monkeypatch.setattr(f"se_tutorial.studies.results.{writer}", full)


@pytest.mark.slow
def test_a_full_disk_for_the_results_row_prints_the_row_instead(tmp_path, monkeypatch, capsys):
    full_disk(monkeypatch, tmp_path, "atomic_write_text")
    out = tmp_path / "run.json"
    assert main(["train", "--budget", "smoke", "--no-progress", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "No space left on device" in captured.err
    assert "printed on stdout above" in captured.err and "Traceback" not in captured.err
    row = json.loads(captured.out[captured.out.index("{\n") :])  # the whole row, after the summary line
    assert row["budget"] == "smoke" and len(row["history"]) == 1 and not out.exists()


@pytest.mark.slow
def test_a_full_disk_during_a_sweep_prints_the_finished_row(tmp_path, monkeypatch, capsys):
    full_disk(monkeypatch, tmp_path, "append_line")
    out = tmp_path / "rows.jsonl"
    argv = ["sweep", "se-and-init", "--seeds", "0", "--budget", "smoke", "--no-progress", "--out", str(out)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "could not append the finished run's row" in captured.err and "Traceback" not in captured.err
    row = json.loads(captured.out.strip().splitlines()[-1])
    assert (row["sweep"], row["variant"], row["seed"]) == ("se-and-init", "resnet", 0)


CLAIM_HOLDER = """
import sys, time
from pathlib import Path
from se_tutorial.utils.files import claim
with claim(Path(sys.argv[1])) as ours:
    assert ours
    Path(sys.argv[2]).touch()
    time.sleep(120)  # until the test kills it, as a crash would
"""


@pytest.mark.slow
def test_overlapping_sweeps_share_their_runs_and_take_over_a_dead_ones(tmp_path):
    """Sweeps of seeds 0 1, 1 2 and 0 2 at once train each run once; a run claimed by a
    sweep that then dies is trained by a survivor."""
    from se_tutorial.studies.sweeps import claim_path

    data = write_fashion_mnist(tmp_path / "fmnist", train=384, test=128)
    out = tmp_path / "sweep.jsonl"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    # A sweep that claimed (seed 2, se-resnet) and hangs; the test kills it later.
    ready = tmp_path / "ready"
    held = claim_path(out, ("se-and-init", "se-resnet", 2, "smoke", "fashion-mnist", 1, "float32"))
    holder = subprocess.Popen([sys.executable, "-c", CLAIM_HOLDER, str(held), str(ready)], env=env)
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    command = [*SMOKE_SWEEP, "--out", str(out)]
    sweeps = [
        subprocess.Popen([*command, "--seeds", *seeds], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for seeds in (["0", "1"], ["1", "2"], ["0", "2"])
    ]  # fmt: skip
    deadline = time.monotonic() + 300
    while len(out.read_text().splitlines() if out.exists() else []) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sweeps[1].poll() is None and sweeps[2].poll() is None, "the sweeps needing seed 2 did not wait"
    holder.kill()  # the claimant dies; the system releases its lock
    holder.wait()
    for sweep in sweeps:
        _, error = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, error[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    keys = sorted((r["seed"], r["variant"]) for r in rows)
    assert keys == [(s, v) for s in (0, 1, 2) for v in ("resnet", "se-resnet")]  # each run exactly once


# Python ignores SIGINT in a child started with it ignored (a shell's background job):
# install the usual handler, then run the command line as `python -m se_tutorial` does.
AS_MAIN = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'se_tutorial'; runpy.run_module('se_tutorial', run_name='__main__', alter_sys=True)"
)


@pytest.mark.slow
def test_ctrl_c_while_the_command_line_starts_is_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", AS_MAIN, "train", "--help"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.3)  # inside `import torch`, which takes seconds
    process.send_signal(signal.SIGINT)
    out, error = process.communicate(timeout=60)
    assert process.returncode == 130, error[-3000:]
    assert error == "python -m se_tutorial: interrupted while starting; nothing was done.\n" and not out


@pytest.mark.slow
def test_a_second_ctrl_c_during_the_exit_adds_no_traceback(tmp_path):
    process = paused_training(tmp_path, 0, "--compile")
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    if process.poll() is None:  # still exiting: a second, impatient Ctrl-C
        process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130, error[-3000:]
    assert "Traceback" not in error and "Exception ignored" not in error
