"""The shipped trained network: safe to load, checked against its card, and as accurate as it says."""

from pathlib import Path

import pytest
import torch

from se_tutorial import cifar_resnet
from se_tutorial.book.pretrained import available, load_pretrained, save_pretrained
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
    with pytest.raises(ValueError, match="does not match the network its card describes"):
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
