"""Evaluation: logits, mean loss and accuracy, and the confusion matrix of a model on a loader."""

from __future__ import annotations

import torch
from torch import nn

from ..data import DeviceLoader
from .distributed import all_reduce_sum
from .precision import Precision, choose_precision


@torch.no_grad()
def predict(
    model: nn.Module, loader: DeviceLoader, *, tta: bool = False, precision: Precision | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` (float32) and labels ``(N,)`` for every example ``loader`` yields.

    ``tta=True`` averages each image's logits with those of its mirror image.
    The model is evaluated in eval mode and left in the mode it was in, in
    ``precision`` (default: :func:`~.precision.choose_precision` for the loader's device).
    """
    was_training = model.training
    model.eval()
    precision = precision or choose_precision(loader.device)
    outputs, labels = [], []
    try:
        for images, targets in loader:
            with precision.autocast():
                logits = model(images).float()
                if tta:  # average with the mirror image's prediction
                    logits = (logits + model(images.flip(3)).float()) / 2
            outputs.append(logits)
            labels.append(targets)
    finally:
        model.train(was_training)
    return torch.cat(outputs), torch.cat(labels)


def evaluate(
    model: nn.Module, loader: DeviceLoader, *, tta: bool = False, precision: Precision | None = None
) -> tuple[float, float]:
    """Mean cross-entropy (no label smoothing) and accuracy over ``loader``, summed over ranks."""
    logits, labels = predict(model, loader, tta=tta, precision=precision)
    totals = torch.stack(
        [
            nn.functional.cross_entropy(logits, labels, reduction="sum"),
            (logits.argmax(1) == labels).sum().float(),
            torch.tensor(float(len(labels)), device=logits.device),
        ]
    )
    loss_sum, correct, count = all_reduce_sum(totals).tolist()
    return loss_sum / count, correct / count


def confusion_matrix(
    model: nn.Module, loader: DeviceLoader, num_classes: int, *, tta: bool = False
) -> torch.Tensor:
    """``(classes, classes)`` int64 counts; row = true class, column = predicted class."""
    logits, labels = predict(model, loader, tta=tta)
    pairs = labels * num_classes + logits.argmax(1)
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes).cpu()
