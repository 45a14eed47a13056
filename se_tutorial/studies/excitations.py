"""What SE blocks learn: their excitations per class, as in the SENet paper's Fig. 6.

:func:`excitation_statistics` runs a model over a loader once and returns, for
every SE block, the mean and variance of each channel's weight within each
class. From those, :func:`class_specificity` measures how much a block's
weights depend on the class (the spread of the class means relative to the
spread within classes), and :attr:`BlockExcitations.near_one` how many weights
sit above 0.9, as in the block the paper found saturated. :func:`stage_removal`
tests the paper's follow-up: replace a stage's SE blocks by a fixed scale and
see what the network loses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..data import DeviceLoader
from ..nn.cost import count_parameters
from ..nn.se_block import capture_excitations
from ..training.evaluation import predict
from .stats import flipped_predictions

if TYPE_CHECKING:  # pandas is needed only by the tables, and imported there
    import pandas as pd


@dataclass
class BlockExcitations:
    """Per-class statistics of one SE block's weights ``s``: ``K`` classes, ``C`` channels."""

    class_means: torch.Tensor  #: ``(K, C)``, mean of ``s_c`` over the images of each class
    class_variances: torch.Tensor  #: ``(K, C)``, variance within each class (population)
    counts: torch.Tensor  #: ``(K,)`` images per class
    near_one: float  #: fraction of all weights above 0.9 (the paper's saturation: close to 1)

    def variance_parts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per channel ``(C,)``: variance of the class means and mean variance within classes."""
        weights = self.counts / self.counts.sum()  # (K,)
        overall = weights @ self.class_means  # (C,)
        return weights @ (self.class_means - overall).square(), weights @ self.class_variances

    @property
    def spread(self) -> float:
        """Standard deviation of ``s_c`` over all images, averaged over channels."""
        between, within = self.variance_parts()
        return float((between + within).sqrt().mean())


@torch.no_grad()
def excitation_statistics(
    model: nn.Module, loader: DeviceLoader, num_classes: int
) -> dict[str, BlockExcitations]:
    """Class-wise mean and variance of every SE block's excitations over ``loader``.

    Accumulates sums in float64, so the result does not depend on the batch size.
    """
    was_training = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    squares: dict[str, torch.Tensor] = {}
    near_one: dict[str, float] = {}
    counts = torch.zeros(num_classes, dtype=torch.float64)
    total = 0
    try:
        with capture_excitations(model) as captured:
            for images, labels in loader:
                model(images)
                one_hot = nn.functional.one_hot(labels.cpu(), num_classes).double()  # (B, K)
                counts += one_hot.sum(0)
                total += len(labels)
                for name, s in captured.items():
                    s = s.double().cpu()  # (B, C)
                    sums[name] = sums.get(name, 0) + one_hot.T @ s  # (K, C)
                    squares[name] = squares.get(name, 0) + one_hot.T @ s.square()
                    near_one[name] = near_one.get(name, 0.0) + float((s > 0.9).sum())
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("the loader yielded no images; pass a loader with test data.")
    result = {}
    for name in sums:
        present = counts.clamp(min=1)[:, None]
        means = sums[name] / present
        variances = (squares[name] / present - means.square()).clamp(min=0)
        channels = sums[name].shape[1]
        result[name] = BlockExcitations(means, variances, counts.clone(), near_one[name] / (total * channels))
    return result


def class_specificity(block: BlockExcitations) -> float:
    """How much a block's weights depend on the class: between-class over within-class variance.

    Per channel, the variance of the class means (weighted by class size)
    divided by the mean variance within classes, averaged over channels.
    0 means every class gets the same weights on average; large values mean
    the class decides the weights more than the individual image does.
    """
    between, within = block.variance_parts()
    return float((between / within.clamp(min=1e-12)).mean())


class FixedScale(nn.Module):
    """A channel scale that ignores the image: ``x * s`` with fixed weights ``s`` of shape ``(C,)``."""

    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weights", weights.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        return x * self.weights[None, :, None, None]


@torch.no_grad()
def mean_excitations(model: nn.Module, loader: DeviceLoader, batches: int) -> dict[str, torch.Tensor]:
    """Every SE block's weights averaged over the first ``batches`` batches: ``{block name: (C,)}``."""
    was_training = model.training
    model.eval()
    collected: dict[str, list[torch.Tensor]] = {}
    try:
        with capture_excitations(model) as captured:
            for _, (images, _labels) in zip(range(batches), loader, strict=False):
                model(images)
                for name, s in captured.items():
                    collected.setdefault(name, []).append(s.float())
    finally:
        model.train(was_training)
    if not collected:
        raise ValueError("the loader yielded no images, or the model has no SE blocks to average.")
    return {name: torch.cat(parts).mean(0) for name, parts in collected.items()}


def stage_removal(
    network: nn.Module, stage: str, train: DeviceLoader, test: DeviceLoader, batches: int = 10
) -> pd.DataFrame:
    """What a trained network loses when the SE blocks of ``stage`` (e.g. ``"layer3"``) stop looking at the image.

    Two replacements, each in a copy of ``network``: the identity (every
    weight 1, as in a saturated block) and :class:`FixedScale` with the
    block's average weights over ``batches`` training batches (the scale the
    network was trained with, but the same for every image). One row each,
    after the network as trained: test accuracy, its change in points, the
    test images whose prediction changed (became right, became wrong, or went
    from one wrong class to another), McNemar's exact test of the change in
    accuracy (:func:`~.stats.flipped_predictions`), and the parameters the
    stage's SE blocks hold.
    """
    import pandas as pd

    blocks = getattr(network, stage, None)
    if not isinstance(blocks, nn.Sequential) or not all(hasattr(b, "attention") for b in blocks):
        stages = [n for n, m in network.named_children() if isinstance(m, nn.Sequential)]
        raise ValueError(
            f"{stage!r} is not a stage of residual blocks of this network; its stages: {stages}."
        )
    train.set_epoch(0)
    averages = mean_excitations(network, train, batches)
    variants = {"as trained": network}
    for title in ("identity", "average weights"):
        variant = copy.deepcopy(network)
        for index, block in enumerate(getattr(variant, stage)):
            average = averages[f"{stage}.{index}.attention"]
            block.attention = nn.Identity() if title == "identity" else FixedScale(average)
        variants[f"{stage} SE: {title}"] = variant
    predictions = {title: predict(model, test) for title, model in variants.items()}
    base_logits, labels = predictions["as trained"]
    base = (base_logits.argmax(1) == labels).float().mean().item()
    removed = sum(count_parameters(block.attention) for block in blocks)
    rows = []
    for title, (logits, _) in predictions.items():
        accuracy = (logits.argmax(1) == labels).float().mean().item()
        flips = flipped_predictions(labels, base_logits.argmax(1), logits.argmax(1))
        rows.append({
            "network": title, "test accuracy": f"{accuracy:.2%}", "change (points)": f"{(accuracy - base) * 100:+.2f}",
            "became right": flips.became_right, "became wrong": flips.became_wrong,
            "wrong to wrong": flips.wrong_to_another,
            "p (McNemar)": "-" if title == "as trained" else f"{flips.p_value:.3f}",
            "SE parameters removed": 0 if title == "as trained" else removed,
        })  # fmt: skip
    # "network" names the index column in the header row, not in a row of its own
    return pd.DataFrame(rows).set_index("network").rename_axis(index=None, columns="network")
