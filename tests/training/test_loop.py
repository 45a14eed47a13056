"""fit: it learns, keeps a history, and refuses a schedule it cannot run."""

from dataclasses import replace
from pathlib import Path

import pytest
from fixtures import TINY, tiny_model, write_fashion_mnist

from se_tutorial.training import TrainConfig, confusion_matrix, fit, prepare_data

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.slow  # every test here trains


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


def test_too_few_steps_for_a_schedule_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    data = prepare_data("fashion-mnist", budget=replace(TINY, batch_size=256), device="cpu")
    with pytest.raises(ValueError, match="only 2 optimizer steps"):
        fit(tiny_model(), data, TrainConfig(epochs=1), progress=False)
