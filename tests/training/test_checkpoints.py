"""Checkpoints: exact resumes, never overwritten, refused when they do not belong to the run."""

from pathlib import Path

import pytest
import torch
from fixtures import linear_model, tiny_model

from se_tutorial.training import (
    CheckpointExistsError,
    CheckpointMismatchError,
    InvalidCheckpointError,
    TrainConfig,
    fit,
)
from se_tutorial.training.checkpoints import architecture, load_checkpoint
from se_tutorial.utils.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
