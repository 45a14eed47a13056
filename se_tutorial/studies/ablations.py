"""The SENet paper's ablations (TPAMI, Tables 10-14) next to this book's sweeps.

Each :class:`Study` names the sweep in :mod:`.sweeps` that re-measures one
of the paper's tables (whose baseline the others are compared with) and the paper's ImageNet top-1 errors (%; SE-ResNet-50, one run per
variant). :func:`compare` pairs every variant with that baseline seed by seed
and says whether the difference stands out from seed-to-seed noise and
whether it points the same way as the paper's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..training import BUDGETS
from ..utils import checks
from .stats import PairedDifference, Summary, holm, paired_difference, summarize
from .sweeps import SWEEPS

if TYPE_CHECKING:  # pandas is needed only by the tables, and imported there
    import pandas as pd


@dataclass(frozen=True)
class Study:
    """One ablation: its sweep and the paper's numbers; the sweep's baseline is the study's."""

    title: str
    sweep: str
    source: str  #: where in the paper (TPAMI version)
    paper_error: dict[str, float] = field(default_factory=dict)  #: top-1 error (%) per variant
    #: the variant the others are compared with, where it is not the sweep's baseline
    reference: str | None = None

    @property
    def baseline(self) -> str:
        """The variant the others are compared with: ``reference``, else the sweep's baseline."""
        return self.reference or SWEEPS[self.sweep].baseline


#: The paper's table for each study, in the order the chapter shows them. Table 13 puts SE
#: into one of ResNet-50's four stages (conv2_x to conv5_x; the paper calls them stages 2 to 5)
#: and tests the first three alone: this book's three stages are matched with those by
#: position (its stage 1 with the paper's stage 2). Table 12's zero-init counterpart is the
#: same table: the paper's networks start every residual branch at full strength.
STUDIES: dict[str, Study] = {
    study.sweep: study
    for study in (
        Study(
            "Reduction ratio", "reduction-ratio", "Table 10",
            {"r=2": 22.29, "r=4": 22.25, "r=8": 22.26, "r=16": 22.28, "r=32": 22.72},
        ),
        Study("Squeeze operator", "squeeze", "Table 11", {"avg": 22.28, "max": 22.57}),
        Study("Excitation gate", "gate", "Table 12", {"sigmoid": 22.28, "tanh": 23.00, "relu": 23.47}),
        Study(
            "SE in one stage", "stages", "Table 13",
            {"resnet": 23.30, "stage 1 only": 23.03, "stage 2 only": 23.04, "stage 3 only": 22.68,
             "all stages": 22.28},
        ),
        Study(
            "Integration strategy", "placement", "Table 14",
            {"standard": 22.28, "pre": 22.23, "post": 22.78, "identity": 22.20},
        ),
        Study(
            "Excitation gate, branches starting at zero", "gate-zero-init", "Table 12",
            {"sigmoid": 22.28, "tanh": 23.00, "relu": 23.47},
        ),
    )
}  # fmt: skip


def own_variants(sweep: str) -> list[str]:
    """The variants of ``sweep`` that train a model of their own (not another sweep's network under its name)."""
    return SWEEPS[checks.choice("sweep", sweep, SWEEPS)].own_variants()


def why_not_buildable(sweep: str, variant: str, budget: str) -> str | None:
    """Why ``variant``'s model cannot be built on ``budget``'s network, or ``None`` if it can.

    >>> why_not_buildable("reduction-ratio", "r=32", "brief")[:46]
    '16 channels cannot be reduced by exactly r=32 '
    """
    chosen = SWEEPS[checks.choice("sweep", sweep, SWEEPS)]
    return chosen.why_not_buildable(variant, BUDGETS[checks.choice("budget", budget, BUDGETS)])


def accuracies(rows: Iterable[dict], sweep: str, variant: str, budget: str) -> dict[int, float]:
    """Final test accuracy per seed of one variant on one budget: ``{seed: accuracy}``.

    A variant that another sweep trains (:attr:`~.sweeps.Sweep.borrowed`: the
    factorial's plain ResNet or standard SE under another name) is read from
    that sweep's runs when the file has none under its own name.
    """
    rows = list(rows)

    def of(sweep: str, variant: str) -> dict[int, float]:
        return {  # rows of single runs (no "sweep") are in no study
            row["seed"]: row["test_accuracy"]
            for row in rows
            if (row.get("sweep"), row.get("variant"), row["budget"]) == (sweep, variant, budget)
        }

    found = of(sweep, variant)
    borrowed = SWEEPS[sweep].borrowed if sweep in SWEEPS else {}
    if not found and variant in borrowed:
        found = of(*borrowed[variant])
    return found


@dataclass(frozen=True)
class VariantResult:
    """One variant of a study: its accuracy over seeds and its difference from the baseline.

    ``difference`` is variant minus baseline over the seeds both have (``None``
    for the baseline itself, whose ``is_baseline`` is set, or with fewer than
    two shared seeds);
    ``paper_difference`` is the paper's, in points of accuracy (its baseline's
    top-1 error minus the variant's), ``None`` where the paper has no number;
    ``adjusted_p`` is the paired t test's p-value after Holm's correction over
    the family of comparisons read together (``None`` until
    :func:`with_holm` sets it).
    """

    variant: str
    summary: Summary
    difference: PairedDifference | None
    paper_difference: float | None
    is_baseline: bool = False
    adjusted_p: float | None = None

    @property
    def ours(self) -> str:
        """``"better"``, ``"worse"`` or ``"within noise"`` than the baseline.

        Better or worse needs the 95% interval to exclude zero and, once Holm's
        correction is applied, the adjusted p-value to stay below 0.05; an
        interval that excludes zero on its own gives ``"not after Holm"``.
        ``"baseline"`` for the baseline, and ``"too few shared seeds"`` for a
        variant that shares fewer than two seeds with it (no interval).
        """
        if self.is_baseline:
            return "baseline"
        if self.difference is None:
            return "too few shared seeds"
        if not self.difference.excludes_zero:
            return "within noise"
        if self.adjusted_p is not None and self.adjusted_p >= 0.05:
            return "not after Holm"
        return "better" if self.difference.mean > 0 else "worse"

    @property
    def agreement(self) -> str:
        """Whether this budget can test the paper's difference, and if so whether it agrees.

        The paper trained each variant once, without error bars. Its difference
        is tested only where it is larger than our interval is wide (a smaller
        one could not be told from noise here): then ``"same direction"`` or
        ``"opposite direction"`` when ours is a finding (:attr:`ours` says better
        or worse: the interval excludes zero and the difference survives Holm's
        correction), ``"not seen here"`` when it is not. ``"paper's gap < interval"`` where the paper's
        difference is smaller than our interval's width, and ``"-"`` where there
        is nothing to compare (the baseline, or no paper number).
        """
        if self.difference is None or self.paper_difference is None:
            return "-"
        width = (self.difference.high - self.difference.low) * 100
        if abs(self.paper_difference) <= width:
            return "paper's gap < interval"
        if self.ours not in ("better", "worse"):
            return "not seen here"
        same = (self.difference.mean > 0) == (self.paper_difference > 0)
        return "same direction" if same else "opposite direction"


def with_holm(families: Mapping[str, list[VariantResult]]) -> dict[str, list[VariantResult]]:
    """Every result of ``families`` (``{study: results}``) with Holm's correction over all of them together.

    The comparisons a chapter reads together are one family: with twenty
    intervals at 95%, one excludes zero by chance even when nothing differs.

    >>> r = lambda p: VariantResult("v", Summary(0.9, 0.0, 3), PairedDifference(0.01, 0.0, 0.02, 0.95, 3, p, 3, 0), None)
    >>> [x.adjusted_p for x in with_holm({"a": [r(0.01), r(0.04)], "b": [r(0.03)]})["a"]]
    [0.03, 0.06]
    """
    compared = [
        (study, i) for study, results in families.items() for i, r in enumerate(results) if r.difference
    ]
    adjusted = holm([families[study][i].difference.p_value for study, i in compared]) if compared else []
    out = {study: list(results) for study, results in families.items()}
    for (study, i), p in zip(compared, adjusted, strict=True):
        out[study][i] = replace(out[study][i], adjusted_p=round(p, 12))
    return out


def compare(rows: Iterable[dict], study: Study, variants: Iterable[str], budget: str) -> list[VariantResult]:
    """Every variant of ``study`` that has runs, paired by seed with the baseline.

    ``variants`` gives the order (usually the sweep's); variants without runs
    on ``budget`` are left out.
    """
    rows = list(rows)
    base = accuracies(rows, study.sweep, study.baseline, budget)
    if not base:
        raise ValueError(
            f"no {budget} runs of the baseline {study.sweep}:{study.baseline}; run "
            f"`python -m se_tutorial sweep {study.sweep} --budget {budget}` first."
        )
    paper_base = study.paper_error.get(study.baseline)
    results = []
    for variant in variants:
        runs = accuracies(rows, study.sweep, variant, budget)
        if not runs:
            continue
        seeds = sorted(set(runs) & set(base))
        difference = None
        if variant != study.baseline and len(seeds) >= 2:
            difference = paired_difference([base[s] for s in seeds], [runs[s] for s in seeds])
        paper = study.paper_error.get(variant)
        known = paper is not None and paper_base is not None and variant != study.baseline
        paper_difference = paper_base - paper if known else None
        summary = summarize(list(runs.values()))
        results.append(
            VariantResult(variant, summary, difference, paper_difference, variant == study.baseline)
        )
    return results


def largest_branch_gradient(model: nn.Module, seed: int = 0) -> float:
    """The largest ``|gradient|`` of any weight inside a residual branch after one backward pass.

    The batch is 32 random 28x28 images with labels 0-9 in turn; what matters
    is whether any gradient reaches the branches at all. Branch weights are
    those of the stages (``layer*``) outside the 1x1 shortcut projections.
    """
    generator = torch.Generator().manual_seed(seed)
    images, labels = torch.randn(32, 1, 28, 28, generator=generator), torch.arange(32) % 10
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(images), labels).backward()
    return max(
        p.grad.abs().max().item()
        for name, p in model.named_parameters()
        if name.startswith("layer") and ".shortcut." not in name and p.grad is not None
    )


def branch_gradients(budget: str, gates: Sequence[str], **options: object) -> pd.DataFrame:
    """:func:`largest_branch_gradient` of ``budget``'s SE-ResNet with each gate, branches starting at 0 or at 1.

    Zero-init residual starts every branch's last BN scale at 0 (the block is
    the identity); the PyTorch default starts it at 1. Same seed everywhere.
    ``options`` are more SE options (``bias=True``, say).
    """
    import pandas as pd

    network = BUDGETS[checks.choice("budget", budget, BUDGETS)]
    table = {}
    for gate in gates:
        table[gate] = []
        for zero in (True, False):
            spec = network.model(
                attention="se", attention_options={**options, "gate": gate}, zero_init_residual=zero, seed=0
            )
            gradient = largest_branch_gradient(spec.build(in_channels=1, num_classes=10))
            table[gate].append(f"{gradient:.2e}")
    columns = ["γ starts at 0", "γ starts at 1"]
    # "gate" names the index column in the header row, not in a row of its own
    return pd.DataFrame.from_dict(table, orient="index", columns=columns).rename_axis(columns="gate")
