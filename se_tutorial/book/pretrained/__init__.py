"""Trained networks shipped with the package, so analyses run without training first.

``model, card = load_pretrained("se_resnet8_fashion_mnist")`` returns the
network in eval mode and its *card*: how it was built and trained (budget,
seed, epochs), its test accuracy, and the provenance of the run that made it
(commit, device, torch version, date). ``book/scripts/train_pretrained.py``
trains and writes these files.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import torch
from torch import nn

from ...nn.models import ModelSpec
from ...training.checkpoints import architecture
from ...utils import checks
from ...utils.errors import SETutorialError
from ...utils.files import atomic_write
from ...utils.saved import load_saved

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


class PretrainedFileError(SETutorialError, ValueError):
    """A file is not a trained network written by :func:`save_pretrained`, or is damaged."""


def load_pretrained(name_or_path: str | Path = "se_resnet8_fashion_mnist") -> tuple[nn.Module, dict]:
    """The shipped network called ``name_or_path`` (or a file written by :func:`save_pretrained`).

    Loaded with ``torch.load(weights_only=True)``; its card must say how to
    build it (:class:`ModelSpec` fields, input channels and classes, nothing
    unknown), and the weights must have the stored names and shapes and be
    finite. Anything else is a :class:`PretrainedFileError` saying what.
    Returns ``(model in eval mode, card)``.
    """
    path = Path(name_or_path)
    if path.suffix != ".pt":
        checks.choice("pretrained network", str(name_or_path), available())
        path = PRETRAINED_DIR / f"{name_or_path}.pt"

    def invalid(reason: str) -> PretrainedFileError:
        return PretrainedFileError(
            f"{path} is not a trained network written by save_pretrained: {reason}. Shipped networks: "
            f"{', '.join(available())}; book/scripts/train_pretrained.py writes them again."
        )

    state = load_saved(
        path, ("card", "architecture", "model"), invalid,
        weights_hint="it holds only a state_dict, without the card that says how to build the network",
    )  # fmt: skip
    if "optimizer" in state and "scheduler" in state:
        raise invalid(
            "it is a training checkpoint (written by fit); load its 'model' weights into the network"
        )
    card = state["card"]
    build = card.get("build") if isinstance(card, dict) else None
    if not isinstance(build, dict) or any(key not in build for key in _BUILD_KEYS):
        raise invalid(f"its card does not say how to build the network (it needs {', '.join(_BUILD_KEYS)})")
    known = {f.name for f in dataclasses.fields(ModelSpec)} | {"in_channels", "num_classes"}
    if unknown := sorted(set(build) - known):
        raise invalid(f"its card's build entry names {unknown}, which this version's networks do not have")
    build = dict(build)
    in_channels, num_classes = build.pop("in_channels"), build.pop("num_classes")
    try:
        model = ModelSpec.from_row(build).build(in_channels=in_channels, num_classes=num_classes)
    except (TypeError, ValueError) as error:
        raise invalid(f"its card describes no network this version can build ({error})") from None
    if architecture(model) != state["architecture"] or not isinstance(state["model"], dict):
        raise invalid(f"its weights do not match the network its card describes ({card['build']})")
    weights = state["model"]
    if architecture(model) != {k: list(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}:
        raise invalid("its weights do not have the names and shapes its own record gives")
    broken = [k for k, v in weights.items() if torch.is_floating_point(v) and not torch.isfinite(v).all()]
    if broken:
        raise invalid(
            f"its weights hold NaN or infinite values (first: {broken[:3]}), which would predict NaN"
        )
    model.load_state_dict(weights)
    return model.eval(), card


def describe(card: dict) -> str:
    """What a shipped network is and where it was trained, in three or four short lines.

    >>> print(describe({"name": "n", "budget": "brief", "seed": 0, "test_accuracy": 0.9122,
    ...                 "device": "CPU (x86_64, 1 threads)", "commit": "8c480b1c5ed4"}))
    n: brief budget, seed 0, test accuracy 91.22%,
    trained on: CPU (x86_64, 1 threads)
    commit 8c480b1c5ed4

    (A device name too long for one line with the words before it gets a line of its own.)
    """
    from ..chapter import fit_to_page  # (matplotlib, which chapter styles, only when describing)

    device = card["device"]
    trained = f"trained on: {device}" if len(device) <= 64 else f"trained on:\n{fit_to_page(device)}"
    return (
        f"{card['name']}: {card['budget']} budget, seed {card['seed']}, test accuracy {card['test_accuracy']:.2%},\n"
        f"{trained}\ncommit {card['commit']}"
    )
