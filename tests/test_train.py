"""The training engine: it learns, resumes exactly, fails clearly, and runs from the command line."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fixtures import write_fashion_mnist
from torch import nn

from se_tutorial.budgets import BUDGETS, resolve_budget
from se_tutorial.checkpoints import CheckpointMismatchError
from se_tutorial.command_line import main
from se_tutorial.config import TrainConfig
from se_tutorial.data import Augmentation, load_dataset
from se_tutorial.evaluation import confusion_matrix
from se_tutorial.prepare import prepare_data
from se_tutorial.runs import build_model
from se_tutorial.train import NonFiniteLossError, fit

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
    with pytest.raises(KeyboardInterrupt):
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
