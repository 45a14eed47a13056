"""Trained networks shipped with the package, so analyses run without training first.

``model, card = load_pretrained("se_resnet8_fashion_mnist")`` returns the
network in eval mode and its *card*: how it was built and trained (budget,
seed, epochs), its test accuracy, and the provenance of the run that made it
(commit, device, torch version, date). ``book/scripts/train_pretrained.py``
trains and writes these files.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from torch import nn

from ..nn.models import ModelSpec
from ..training.checkpoints import architecture
from ..utils import checks
from ..utils.files import atomic_write

#: Where the shipped files live (inside the package, so a pip install has them).
PRETRAINED_DIR = Path(__file__).resolve().parent / "weights"

#: What a card's ``build`` entry must record: the network's ModelSpec fields that matter
#: for its shape, and its input channels and classes.
_BUILD_KEYS = ("depth", "in_channels", "num_classes", "width", "attention")


def available() -> list[str]:
    """Names of the shipped networks."""
    return sorted(path.stem for path in PRETRAINED_DIR.glob("*.pt"))


def save_pretrained(path: str | Path, model: nn.Module, card: dict) -> Path:
    """Write ``model``'s weights and its ``card`` (which must name how to build it) atomically."""
    missing = [key for key in _BUILD_KEYS if key not in card.get("build", {})]
    if missing:
        raise ValueError(f"the card's 'build' entry must give {', '.join(missing)} to rebuild the model.")
    card = json.loads(json.dumps(card))  # plain types only: weights_only loading accepts nothing else
    buffer = io.BytesIO()
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    torch.save({"card": card, "architecture": architecture(model), "model": weights}, buffer)
    return atomic_write(path, lambda file: file.write(buffer.getbuffer()))


def load_pretrained(name_or_path: str | Path = "se_resnet8_fashion_mnist") -> tuple[nn.Module, dict]:
    """The shipped network called ``name_or_path`` (or a file written by :func:`save_pretrained`).

    Loaded with ``torch.load(weights_only=True)``, rebuilt from its card and
    checked against the stored parameter names and shapes. Returns
    ``(model in eval mode, card)``.
    """
    path = Path(name_or_path)
    if path.suffix != ".pt":
        checks.choice("pretrained network", str(name_or_path), available())
        path = PRETRAINED_DIR / f"{name_or_path}.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    card = state["card"]
    build = dict(card["build"])
    in_channels, num_classes = build.pop("in_channels"), build.pop("num_classes")
    model = ModelSpec.from_row(build).build(in_channels=in_channels, num_classes=num_classes)
    if architecture(model) != state["architecture"]:
        raise ValueError(
            f"{path} does not match the network its card describes ({card['build']}); "
            "the file is damaged or was written by another version: train it again with "
            "book/scripts/train_pretrained.py."
        )
    model.load_state_dict(state["model"])
    return model.eval(), card
