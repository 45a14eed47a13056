"""The training engine: it learns, resumes exactly, fails clearly, and runs from the command line."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fixtures import write_fashion_mnist
from torch import nn

from se_tutorial.budgets import BUDGETS, resolve_budget
from se_tutorial.checkpoints import (
    CheckpointExistsError,
    CheckpointMismatchError,
    InvalidCheckpointError,
    architecture,
    load_checkpoint,
)
from se_tutorial.command_line import main
from se_tutorial.config import TrainConfig
from se_tutorial.data import Augmentation, load_dataset
from se_tutorial.errors import ConfigurationError
from se_tutorial.evaluation import confusion_matrix
from se_tutorial.prepare import prepare_data
from se_tutorial.runs import build_model
from se_tutorial.train import NonFiniteLossError, TrainingDivergedError, fit, make_optimizer

ROOT = Path(__file__).resolve().parents[1]
TINY = replace(BUDGETS["smoke"], batch_size=64)


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist", train=512, test=256)))
    # No flips: the fixture's class is where a square sits, and a mirror would move it.
    augmentation = Augmentation(translate=1, flip=False)
    return prepare_data(
        load_dataset("fashion-mnist", download=False), budget=TINY, device="cpu", augmentation=augmentation
    )


def tiny_model(attention="se", width=1):
    torch.manual_seed(0)
    return build_model(replace(TINY, width=width), in_channels=1, num_classes=10, attention=attention)


def test_a_short_fit_learns_far_above_chance(tiny_data):
    history = fit(tiny_model(), tiny_data, TrainConfig(epochs=5, lr=0.2), progress=False)
    assert [row["epoch"] for row in history.rows] == [1, 2, 3, 4, 5]
    assert history.rows[-1]["test_accuracy"] > 0.6  # chance is 0.1
    assert history.rows[-1]["train_loss"] < history.rows[0]["train_loss"]
    assert all(row["lr"] > 0 and row["seconds"] > 0 for row in history.rows)
    assert "test_accuracy" in history.table() and "<table>" in history._repr_html_()
    counts = confusion_matrix(tiny_model(), tiny_data.test, 10)
    assert counts.shape == (10, 10) and counts.sum() == 256


def test_history_plots_loss_and_accuracy(tiny_data):
    history = fit(tiny_model(None), tiny_data, TrainConfig(epochs=1), progress=False)
    figure = history.plot(label="ResNet")
    assert [ax.get_title() for ax in figure.axes] == ["Loss", "Accuracy"]
    assert len(figure.axes[1].lines) == 2
    with pytest.raises(KeyError, match="unknown column"):
        history.column("accuracy")


def test_resume_after_an_interrupt_ends_bitwise_identical(tiny_data, tmp_path, monkeypatch):
    config = TrainConfig(epochs=3, lr=0.2)
    reference_model = tiny_model()
    reference = fit(reference_model, tiny_data, config, progress=False)

    # Interrupt the second run in its second epoch, as Ctrl-C would.
    checkpoint = tmp_path / "run.pt"
    original_iter = type(tiny_data.train).__iter__

    def interrupting_iter(loader):
        for step, batch in enumerate(original_iter(loader)):
            if loader.epoch == 1 and step == 2:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(type(tiny_data.train), "__iter__", interrupting_iter)
    with pytest.raises(KeyboardInterrupt, match=r"last finished epoch \(1\) is saved in .*resume=True"):
        fit(tiny_model(), tiny_data, config, checkpoint=checkpoint, progress=False)
    monkeypatch.setattr(type(tiny_data.train), "__iter__", original_iter)
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 1 and [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []

    resumed_model = tiny_model()
    resumed = fit(resumed_model, tiny_data, config, checkpoint=checkpoint, resume=True, progress=False)
    for key, value in reference_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key
    assert [r["test_accuracy"] for r in resumed.rows] == [r["test_accuracy"] for r in reference.rows]


def test_checkpoint_of_another_architecture_is_refused(tiny_data, tmp_path):
    checkpoint = tmp_path / "run.pt"
    fit(tiny_model(width=1), tiny_data, TrainConfig(epochs=2), checkpoint=checkpoint, progress=False)
    with pytest.raises(CheckpointMismatchError, match="written for a different model"):
        fit(
            tiny_model(width=2),
            tiny_data,
            TrainConfig(epochs=2),
            checkpoint=checkpoint,
            resume=True,
            progress=False,
        )
    with pytest.raises(
        CheckpointMismatchError, match=r"different training configuration \(changed: \['lr'\]\)"
    ):
        fit(
            tiny_model(),
            tiny_data,
            TrainConfig(epochs=2, lr=0.3),
            checkpoint=checkpoint,
            resume=True,
            progress=False,
        )


class Diverging(nn.Module):
    """A classifier whose logits become NaN from its third call on."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        logits = self.linear(x.flatten(1))
        return logits * float("nan") if self.calls >= 3 else logits


def test_non_finite_loss_stops_with_the_epoch_step_and_advice(tiny_data):
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 3 .*Lower the learning rate"):
        fit(Diverging(), tiny_data, TrainConfig(epochs=2), progress=False)


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown budget"):
        resolve_budget("huge")


def test_budget_defaults_follow_the_device_and_the_environment(monkeypatch):
    assert resolve_budget(None, "cpu").name == "brief"
    assert resolve_budget(None, "cuda").name == "full"
    monkeypatch.setenv("SE_TUTORIAL_BUDGET", "smoke")
    assert resolve_budget(None, "cuda").name == "smoke"


def test_training_set_smaller_than_a_batch_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "small", train=40)))
    with pytest.raises(ValueError, match="fewer than one batch of 128"):
        prepare_data("fashion-mnist", budget="smoke", device="cpu")


def test_cli_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--attention", "--dataset", "--budget", "--seed", "--out", "--resume"):
        assert option in text


def test_cli_smoke_run_writes_a_results_row_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    out = tmp_path / "results" / "run.json"
    assert (
        main(["--budget", "smoke", "--attention", "se", "--seed", "1", "--no-progress", "--out", str(out)])
        == 0
    )
    row = json.loads(out.read_text())
    assert row["attention"] == "se" and row["budget"] == "smoke" and row["seed"] == 1
    assert 0 <= row["test_accuracy"] <= 1 and len(row["history"]) == BUDGETS["smoke"].epochs
    for key in ("commit", "torch", "device", "date", "wall_seconds", "data_source"):
        assert row[key], key


def test_torchrun_with_two_cpu_processes(tmp_path):
    data = write_fashion_mnist(tmp_path / "fmnist")
    out = tmp_path / "ddp.json"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "se_tutorial.train", "--budget", "smoke", "--attention", "se", "--no-progress", "--out", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads(out.read_text())
    assert row["world_size"] == 2 and 0 <= row["test_accuracy"] <= 1


def test_sweep_writes_one_row_per_run_and_skips_finished_runs(tmp_path, monkeypatch):
    from se_tutorial import experiments

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    out = tmp_path / "sweep.jsonl"
    rows = experiments.run_sweep("se-vs-plain", [0], out, budget="smoke", progress=False)
    assert [(r["variant"], r["seed"]) for r in rows] == [("resnet", 0), ("se-resnet", 0)]
    assert len(out.read_text().splitlines()) == 2 and all(r["commit"] and r["device"] for r in rows)

    calls = []
    monkeypatch.setattr(experiments, "run", lambda **kw: calls.append(kw) or pytest.fail("rerun"))
    assert len(experiments.run_sweep("se-vs-plain", [0], out, budget="smoke")) == 2 and not calls
    assert "se-resnet" in experiments.summarize(rows)


def test_sweep_reports_a_damaged_results_file(tmp_path):
    from se_tutorial import experiments

    out = tmp_path / "sweep.jsonl"
    out.write_text('{"ok": 1}\n{broken\n')
    with pytest.raises(ValueError, match="line 2, is not valid JSON"):
        experiments.read_rows(out)


def test_too_few_steps_for_a_schedule_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    data = prepare_data("fashion-mnist", budget=replace(TINY, batch_size=256), device="cpu")
    with pytest.raises(ValueError, match="only 2 optimizer steps"):
        fit(tiny_model(), data, TrainConfig(epochs=1), progress=False)


def test_the_budget_decides_augmentation_unless_told(tmp_path, monkeypatch):
    from se_tutorial.prepare import DEFAULT_AUGMENTATION

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    dataset = load_dataset("fashion-mnist", download=False)
    assert prepare_data(dataset, budget="smoke", device="cpu").train.augmentation == DEFAULT_AUGMENTATION
    assert prepare_data(dataset, budget="brief", device="cpu").train.augmentation is None
    chosen = Augmentation(translate=1)
    assert (
        prepare_data(dataset, budget="brief", device="cpu", augmentation=chosen).train.augmentation is chosen
    )
    with pytest.raises(ValueError, match="unknown augmentation"):
        prepare_data(dataset, budget="brief", device="cpu", augmentation="random")


def test_flip_test_time_augmentation_averages_the_mirrored_prediction(tiny_data):
    from se_tutorial.evaluation import predict

    model = tiny_model().eval()
    plain, labels = predict(model, tiny_data.test)
    averaged, _ = predict(model, tiny_data.test, tta=True)
    with torch.no_grad():
        mirrored = torch.cat([model(images.flip(3)) for images, _ in tiny_data.test])
    torch.testing.assert_close(averaged, (plain + mirrored) / 2)
    assert labels.shape == (256,) and not torch.allclose(plain, averaged)


def test_sweep_command_line_prints_a_summary(tmp_path, monkeypatch, capsys):
    from se_tutorial import experiments

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    out = tmp_path / "sweep.jsonl"
    assert (
        experiments.main(
            ["se-vs-plain", "--seeds", "3", "--budget", "smoke", "--no-progress", "--out", str(out)]
        )
        == 0
    )
    summary = capsys.readouterr().out
    assert "se-resnet" in summary and "resnet" in summary and "smoke" in summary
    assert [json.loads(line)["seed"] for line in out.read_text().splitlines()] == [3, 3]


# --- nothing lost: checkpoints ------------------------------------------------


def linear_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def test_an_existing_checkpoint_is_never_overwritten_without_resume(tiny_data, tmp_path):
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(b"a previous run")
    with pytest.raises(CheckpointExistsError) as caught:
        fit(linear_model(), tiny_data, TrainConfig(epochs=2, lr=0.01), checkpoint=checkpoint, progress=False)
    message = str(caught.value)
    assert str(checkpoint) in message and "resume=True" in message and "remove the file" in message
    assert checkpoint.read_bytes() == b"a previous run"
    with pytest.raises(ConfigurationError, match="resume needs a checkpoint"):
        fit(linear_model(), tiny_data, TrainConfig(epochs=2, lr=0.01), resume=True, progress=False)


def unsafe_pickle(path):
    class Payload:
        def __reduce__(self):
            return (print, ("this would run on load",))

    torch.save({"model": Payload()}, path)


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (lambda path: path.write_bytes(b""), "it is empty"),
        (lambda path: path.write_bytes(b"not a checkpoint at all" * 20), "damaged"),
        (lambda path: path.write_bytes(checkpoint_bytes()[:300]), "truncated or damaged"),
        (lambda path: torch.save([1, 2, 3], path), "holds a list, not a dictionary"),
        (lambda path: torch.save(linear_model().state_dict(), path), "only a model's state_dict"),
        (lambda path: torch.save({"epoch": 3}, path), "lacks the entries"),
        (unsafe_pickle, "Python objects other than tensors"),
    ],
    ids=["empty", "garbage", "truncated", "not-a-dict", "bare-state-dict", "partial", "unsafe-pickle"],
)
def test_an_invalid_checkpoint_gets_one_message_in_the_packages_words(tmp_path, write, reason):
    path = tmp_path / "run.pt"
    write(path)
    with pytest.raises(InvalidCheckpointError) as caught:
        load_checkpoint(path, linear_model(), {})
    message = str(caught.value)
    assert message.startswith(f"{path} is not a checkpoint written by se_tutorial's fit: ")
    assert reason in message and "weights_only" not in message


def checkpoint_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({"model": linear_model().state_dict(), "padding": torch.zeros(1000)}, buffer)
    return buffer.getvalue()


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    model = linear_model()
    weights = model.state_dict()
    weights["1.bias"][3] = float("inf")
    state = {"architecture": architecture(model), "config": {}, "epoch": 1, "model": weights}
    torch.save({**state, "optimizer": {}, "scheduler": {}, "history": []}, tmp_path / "run.pt")
    with pytest.raises(
        InvalidCheckpointError, match=r"non-finite values in 1 tensors \(first: \['1\.bias'\]\)"
    ):
        load_checkpoint(tmp_path / "run.pt", model, {})


def test_flip_tta_changes_only_evaluation_so_it_does_not_block_a_resume(tiny_data, tmp_path):
    checkpoint = tmp_path / "run.pt"
    fit(linear_model(), tiny_data, TrainConfig(epochs=2, lr=0.01), checkpoint=checkpoint, progress=False)
    resumed = fit(
        linear_model(), tiny_data, TrainConfig(epochs=2, lr=0.01, tta=True), checkpoint=checkpoint, resume=True,
        progress=False,
    )  # fmt: skip
    assert [row["epoch"] for row in resumed.rows] == [1, 2]
    with pytest.raises(CheckpointMismatchError, match=r"changed: \['momentum'\]"):
        fit(linear_model(), tiny_data, TrainConfig(epochs=2, lr=0.01, momentum=0.5), checkpoint=checkpoint,
            resume=True, progress=False)  # fmt: skip


# --- telling the truth about divergence ----------------------------------------


class BrokenStatistics(nn.Module):
    """Finite logits throughout, but its running variance turns infinite on the ``breaks_at``-th call."""

    def __init__(self, breaks_at: int):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)
        self.register_buffer("running_var", torch.ones(10))
        self.calls, self.breaks_at = 0, breaks_at

    def forward(self, x):
        self.calls += 1
        if self.training and self.calls == self.breaks_at:
            self.running_var.fill_(float("inf"))  # what a diverging batch norm does to its statistics
        return self.linear(x.flatten(1))


def test_non_finite_statistics_stop_the_run_at_their_step_and_the_kept_checkpoint_is_good(
    tiny_data, tmp_path
):
    # An epoch is 8 training calls and 1 test call: call 11 is epoch 2, step 2.
    checkpoint = tmp_path / "run.pt"
    config = TrainConfig(epochs=3, lr=0.01)
    model = BrokenStatistics(breaks_at=11)
    with pytest.raises(NonFiniteLossError) as caught:
        fit(model, tiny_data, config, checkpoint=checkpoint, progress=False)
    error = caught.value
    assert (error.epoch, error.step) == (2, 2) and error.checkpoint == checkpoint
    optimizer, schedule = make_optimizer(BrokenStatistics(0), config, config.epochs * len(tiny_data.train))
    assert len(tiny_data.train) == 8
    for _ in range(8 + 1):  # the rate of epoch 2, step 2, as the schedule set it for that step
        optimizer.step()
        schedule.step()
    assert error.lr == pytest.approx(schedule.get_last_lr()[0]) and error.lr > 0
    message = str(error)
    assert "non-finite (first: running_var) at epoch 2, step 2 (learning rate" in message
    assert f"The checkpoint of epoch 1, the last healthy one, is kept in {checkpoint}" in message
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 1 and torch.isfinite(saved["model"]["running_var"]).all()


def test_divergence_in_the_first_epoch_says_no_checkpoint_was_written(tiny_data, tmp_path):
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(NonFiniteLossError, match=f"No checkpoint was written to {checkpoint}"):
        fit(BrokenStatistics(breaks_at=2), tiny_data, TrainConfig(epochs=2, lr=0.01), checkpoint=checkpoint,
            progress=False)  # fmt: skip
    assert not checkpoint.exists()


class ExplodesAtTest(nn.Module):
    """Trains normally, but predicts wildly overconfident logits in eval mode."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x):
        logits = self.linear(x.flatten(1))
        return logits if self.training else logits * 1e6


def test_an_exploding_test_loss_stops_the_run(tiny_data):
    with pytest.raises(TrainingDivergedError, match=r"test loss after epoch 1 is .*, beyond 23"):
        fit(ExplodesAtTest(), tiny_data, TrainConfig(epochs=2, lr=0.01), progress=False)


def test_cli_learning_rate_300_on_the_smoke_budget_fails_and_keeps_no_checkpoint(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist", train=1024)))
    checkpoint = tmp_path / "run.pt"
    argv = ["--budget", "smoke", "--lr", "300", "--no-progress", "--checkpoint", str(checkpoint)]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert re.search(r"at epoch 1, step \d+ \(learning rate [0-9.e+]+\); the run diverged", error)
    assert "No checkpoint was written" in error and not checkpoint.exists()


# --- command lines: validation before data, one line per known error ----------------


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
    ],
)
def test_cli_rejects_bad_arguments_before_loading_any_data(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))  # loading would fail
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["--budget", "smoke", "--no-progress", *argv])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_cli_rejects_an_unknown_budget_in_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_BUDGET", "huge")
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-progress"])
    assert (
        exit_info.value.code == 2 and "unknown budget (SE_TUTORIAL_BUDGET) 'huge'" in capsys.readouterr().err
    )


def test_run_rejects_zero_epochs_and_learning_rate_instead_of_using_the_budgets(tmp_path, monkeypatch):
    from se_tutorial.runs import run

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))
    with pytest.raises(ConfigurationError, match="epochs must be a positive integer"):
        run(budget="smoke", epochs=0)
    with pytest.raises(ConfigurationError, match="lr must be a positive finite number, got 0"):
        run(budget="smoke", lr=0)
    with pytest.raises(ConfigurationError, match="seed must be a whole number from 0"):
        run(budget="smoke", seed=-5)


def test_cli_known_errors_are_one_line_and_unexpected_ones_keep_their_traceback(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))
    assert main(["--budget", "smoke", "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("python -m se_tutorial.train: error: $SE_TUTORIAL_DATA is set to")
    assert error.count("\n") == 1 and "Traceback" not in error

    def bug(**options):
        raise RuntimeError("a bug, not a known error")

    monkeypatch.setattr("se_tutorial.command_line.run", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--budget", "smoke", "--no-progress"])


INTERRUPTIBLE = """
import signal, sys, time
from pathlib import Path
# Python ignores Ctrl-C if it started with SIGINT ignored (as a shell's background job
# does); install the usual handler, so the test does not depend on how it was launched.
signal.signal(signal.SIGINT, signal.default_int_handler)
from se_tutorial.command_line import main
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
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize(
    ("pause_epoch", "expected"),
    [
        (0, "before its first epoch ended; no checkpoint exists yet"),
        (1, r"last finished epoch \(1\) is saved in .*run\.pt\. Continue from it with --resume"),
    ],
    ids=["in-the-first-epoch", "in-the-second-epoch"],
)
def test_ctrl_c_exits_130_and_says_what_the_checkpoint_holds(pause_epoch, expected, tmp_path):
    data = write_fashion_mnist(tmp_path / "fmnist", train=256, test=128)
    checkpoint, ready = tmp_path / "run.pt", tmp_path / "ready"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    argv = ["--budget", "smoke", "--epochs", "2", "--no-progress", "--checkpoint", str(checkpoint)]
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE, str(pause_epoch), str(ready), *argv],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), process.communicate()[1][-3000:]
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130, error[-3000:]
    assert re.search(expected, error) and "Traceback" not in error
    assert checkpoint.exists() == (pause_epoch == 1)


def test_concurrent_sweeps_into_one_file_keep_every_row(tmp_path):
    data = write_fashion_mnist(tmp_path / "fmnist", train=384, test=128)
    out = tmp_path / "sweep.jsonl"
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "se_tutorial.experiments", "se-vs-plain", "--budget", "smoke"]
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
    from se_tutorial import experiments

    out = tmp_path / "sweep.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["se-vs-plain", "--seeds", "-3", "--out", str(out)])
    assert exit_info.value.code == 2 and "seed must be a whole number from 0" in capsys.readouterr().err
    out.write_text('{"ok": 1}\n{broken\n')
    assert experiments.main(["se-vs-plain", "--seeds", "0", "--budget", "smoke", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert (
        error.startswith("python -m se_tutorial.experiments: error: ")
        and "line 2, is not valid JSON" in error
    )
    assert error.count("\n") == 1
