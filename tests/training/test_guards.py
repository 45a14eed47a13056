"""Divergence: a run stops at the step that went wrong and says what the checkpoint keeps."""

from pathlib import Path

import pytest
import torch
from torch import nn

from se_tutorial.training import NonFiniteLossError, TrainConfig, TrainingDivergedError, fit, make_optimizer

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.slow  # every test here trains


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
