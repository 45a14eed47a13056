"""The shipped trained network: safe to load, checked against its card, and as accurate as it says."""

from pathlib import Path

import pytest
import torch

from se_tutorial import cifar_resnet
from se_tutorial.book.pretrained import PretrainedFileError, available, load_pretrained, save_pretrained
from se_tutorial.training import evaluate, prepare_data


def test_the_shipped_network_loads_with_its_card():
    assert "se_resnet8_fashion_mnist" in available()
    model, card = load_pretrained("se_resnet8_fashion_mnist")
    assert not model.training
    for key in ("commit", "device", "torch", "date", "budget", "seed", "test_accuracy"):
        assert key in card
    assert "+dirty" not in card["commit"], "ship only networks trained from a committed tree"


def test_the_shipped_network_reaches_the_accuracy_on_its_card(monkeypatch):
    system_copy = Path("/usr/share/datasets/fashion-mnist")
    assert system_copy.is_dir(), "install Debian's dataset-fashion-mnist (make test needs it)"
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(system_copy))
    model, card = load_pretrained("se_resnet8_fashion_mnist")
    data = prepare_data("fashion-mnist", budget="brief", device="cpu")
    _, accuracy = evaluate(model, data.test)
    assert accuracy == pytest.approx(card["test_accuracy"], abs=2e-4)  # summation order may differ


def test_a_file_that_does_not_match_its_card_is_refused(tmp_path):
    model = cifar_resnet(8, in_channels=1, attention="se")
    card = {"build": {"depth": 8, "in_channels": 1, "num_classes": 10, "width": 1, "attention": None}}
    path = save_pretrained(tmp_path / "wrong.pt", model, card)  # built with SE, card says plain
    with pytest.raises(PretrainedFileError, match="do not match the network its card describes"):
        load_pretrained(path)


def test_a_card_that_cannot_rebuild_the_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="depth"):
        save_pretrained(tmp_path / "x.pt", cifar_resnet(8), {"build": {"in_channels": 3}})


def test_an_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="se_resnet8_fashion_mnist"):
        load_pretrained("resnet1000")


def test_the_card_survives_weights_only_loading(tmp_path):
    model = cifar_resnet(8, in_channels=1)
    card = {"build": {"depth": 8, "in_channels": 1, "num_classes": 10, "width": 1, "attention": None},
            "torch": torch.__version__}  # fmt: skip
    _, loaded = load_pretrained(save_pretrained(tmp_path / "ok.pt", model, card))
    assert loaded["torch"] == str(torch.__version__)


# --- files that are not what they claim ------------------------------------------

CARD = {"build": {"depth": 8, "in_channels": 1, "num_classes": 10, "width": 1, "attention": "se"}}


def good_file(tmp_path):
    return save_pretrained(tmp_path / "good.pt", cifar_resnet(8, in_channels=1, attention="se"), CARD)


def edited(tmp_path, change):
    """A copy of a good file with ``change(state)`` applied to what it holds."""
    state = torch.load(good_file(tmp_path), weights_only=True)
    change(state)
    torch.save(state, tmp_path / "edited.pt")
    return tmp_path / "edited.pt"


def unsafe(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this would run on load",))

    torch.save({"card": Payload(), "architecture": {}, "model": {}}, tmp_path / "unsafe.pt")
    return tmp_path / "unsafe.pt"


def training_checkpoint(tmp_path):
    model = cifar_resnet(8, in_channels=1, attention="se")
    state = {"card": CARD, "architecture": {}, "model": model.state_dict(), "optimizer": {}, "scheduler": {}}
    torch.save(state, tmp_path / "run.pt")
    return tmp_path / "run.pt"


def nan_weights(state):
    state["model"]["fc.bias"][0] = float("nan")


def written(tmp_path, data: bytes):
    (tmp_path / "x.pt").write_bytes(data)
    return tmp_path / "x.pt"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda t: written(t, b""), "it is empty"),
        (lambda t: written(t, b"garbled" * 100), "damaged or in an unknown format"),
        (lambda t: written(t, good_file(t).read_bytes()[:2000]), "truncated or damaged"),
        (lambda t: t / "missing.pt", "there is no such file"),
        (lambda t: (torch.save([1, 2, 3], t / "l.pt"), t / "l.pt")[1], "holds a list, not a dictionary"),
        (lambda t: (torch.save(cifar_resnet(8).state_dict(), t / "w.pt"), t / "w.pt")[1], "only a state_dict"),
        (unsafe, "Python objects other than tensors"),
        (training_checkpoint, "is a training checkpoint"),
        (lambda t: edited(t, lambda s: s["card"]["build"].pop("depth")), "does not say how to build"),
        (lambda t: edited(t, lambda s: s["card"]["build"].update(colour=1)), r"names \['colour'\]"),
        (lambda t: edited(t, lambda s: s["card"]["build"].update(depth=9)), "describes no network"),
        (lambda t: edited(t, nan_weights), "NaN or infinite values .*fc.bias"),
        (lambda t: edited(t, lambda s: s["model"].update({"fc.bias": torch.zeros(3)})), "names and shapes"),
    ],
    ids=[
        "empty", "garbled", "truncated", "missing", "list", "bare-state-dict", "unsafe-pickle",
        "training-checkpoint", "card-without-depth", "unknown-build-key", "unbuildable", "nan-weights",
        "wrong-shape",
    ],
)  # fmt: skip
def test_a_file_that_is_not_a_sound_trained_network_gets_one_clear_error(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(PretrainedFileError, match=reason) as caught:
        load_pretrained(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a trained network written by save_pretrained: ")
    assert "weights_only" not in message and "se_resnet8_fashion_mnist" in message
