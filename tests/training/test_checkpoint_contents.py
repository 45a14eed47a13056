"""Everything a checkpoint holds is checked on load: edited or damaged files never resume silently."""

import math

import pytest
import torch
from fixtures import linear_model

from se_tutorial.training import (
    CheckpointMismatchError,
    InvalidCheckpointError,
    TrainConfig,
    fit,
)
from se_tutorial.training.checkpoints import CheckpointInUseError, CheckpointWriteError, lock_path
from se_tutorial.utils.files import claim

pytestmark = pytest.mark.slow  # each case first trains the checkpoint it edits

CONFIG = TrainConfig(epochs=3, lr=0.01)


@pytest.fixture
def finished(tiny_data, tmp_path):
    """A real checkpoint after 2 of 3 epochs, and a way to resume from an edited copy of it."""
    path = tmp_path / "run.pt"
    original_iter = type(tiny_data.train).__iter__

    def stop_in_epoch_3(loader):
        if loader.epoch == 2:
            raise KeyboardInterrupt
        yield from original_iter(loader)

    type(tiny_data.train).__iter__ = stop_in_epoch_3
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(linear_model(), tiny_data, CONFIG, checkpoint=path, progress=False)
    finally:
        type(tiny_data.train).__iter__ = original_iter

    def resume_after(change):
        state = torch.load(path, weights_only=True)
        change(state)
        torch.save(state, path)
        return fit(linear_model(), tiny_data, CONFIG, checkpoint=path, resume=True, progress=False)

    return resume_after


def set_epoch(value):
    return lambda state: state.update(epoch=value)


def nan_momentum(state):
    first = next(iter(state["optimizer"]["state"].values()))
    first["momentum_buffer"].view(-1)[0] = math.nan


def drop_group(state):
    state["optimizer"]["param_groups"] = state["optimizer"]["param_groups"][:1]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (set_epoch(7), InvalidCheckpointError, "holds epoch 7, but a run of 3 epochs saves epochs 1 to 3"),
        (set_epoch(0), InvalidCheckpointError, "holds epoch 0"),
        (set_epoch(-1), InvalidCheckpointError, "holds epoch -1"),
        (set_epoch("1"), InvalidCheckpointError, "holds epoch '1'"),
        (lambda s: s.update(history="oops"), InvalidCheckpointError, "its history is a str"),
        (lambda s: s["history"].pop(), InvalidCheckpointError, "its history is 1 rows, not the 2 epochs"),
        (lambda s: s.update(scheduler={}), InvalidCheckpointError, "would restart the warm-up"),
        (lambda s: s["scheduler"].update(last_epoch=3), InvalidCheckpointError, "stands at step 3, but epoch 2"),
        (drop_group, InvalidCheckpointError, r"parameter groups of \[1\] tensors, this run's of \[1, 1\]"),
        (nan_momentum, InvalidCheckpointError, "non-finite values in the optimizer's state"),
        (lambda s: s["config"].update(colour="red"), CheckpointMismatchError, r"another version.*has \['colour'\]"),
        (lambda s: s["config"].pop("nesterov"), CheckpointMismatchError, r"another version.*lacks \['nesterov'\]"),
    ],
    ids=[
        "epoch-beyond-the-run", "epoch-0", "epoch-negative", "epoch-text", "history-text", "history-short",
        "scheduler-emptied", "scheduler-elsewhere", "optimizer-groups", "nan-momentum", "config-gained-key",
        "config-lost-key",
    ],
)  # fmt: skip
def test_an_edited_checkpoint_is_refused_with_what_is_wrong(finished, change, error, message):
    with pytest.raises(error, match=message):
        finished(change)


def test_an_untouched_checkpoint_still_resumes(finished):
    history = finished(lambda state: None)
    assert [row["epoch"] for row in history.rows] == [1, 2, 3]


def test_two_runs_never_train_into_one_checkpoint_at_once(tiny_data, tmp_path):
    path = tmp_path / "run.pt"
    with claim(lock_path(path)) as ours:  # as another process training into it would
        assert ours
        with pytest.raises(CheckpointInUseError, match="another run is training into the checkpoint"):
            fit(linear_model(), tiny_data, CONFIG, checkpoint=path, progress=False)
    assert not path.exists()
    fit(linear_model(), tiny_data, TrainConfig(epochs=1, lr=0.01), checkpoint=path, progress=False)


def test_a_full_disk_stops_the_run_and_says_which_epoch_the_checkpoint_keeps(
    tiny_data, tmp_path, monkeypatch
):
    from se_tutorial.training import checkpoints

    path, writes = tmp_path / "run.pt", []
    real = checkpoints.atomic_write

    def full_after_one(target, write):
        writes.append(target)
        if len(writes) > 1:
            raise OSError(28, "No space left on device")
        return real(target, write)

    monkeypatch.setattr(checkpoints, "atomic_write", full_after_one)
    with pytest.raises(CheckpointWriteError) as caught:
        fit(linear_model(), tiny_data, CONFIG, checkpoint=path, progress=False)
    assert str(caught.value) == (
        f"could not write the checkpoint of epoch 2 to {path} (No space left on device). "
        f"{path} still holds epoch 1: make room, then resume from it."
    )
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_resuming_with_tta_reports_tta_accuracy_and_marks_every_epoch(tiny_data, tmp_path):
    from se_tutorial.training import evaluate

    path = tmp_path / "run.pt"
    model = linear_model()
    plain = fit(model, tiny_data, TrainConfig(epochs=2, lr=0.01), checkpoint=path, progress=False)
    assert [row["tta"] for row in plain.rows] == [False, False]
    resumed_model = linear_model()
    resumed = fit(
        resumed_model, tiny_data, TrainConfig(epochs=2, lr=0.01, tta=True), checkpoint=path, resume=True,
        progress=False,
    )  # fmt: skip
    _, with_tta = evaluate(resumed_model, tiny_data.test, tta=True)
    assert resumed.rows[-1]["tta"] is True and resumed.rows[-1]["test_accuracy"] == with_tta
    assert resumed.rows[0]["tta"] is False  # epoch 1 was measured without, and says so
    assert resumed.rows[-1]["test_accuracy"] != plain.rows[-1]["test_accuracy"]
