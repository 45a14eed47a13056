"""The SENet paper's ablations (TPAMI, Tables 10-14) next to this book's sweeps.

Each :class:`Study` names the sweep in :mod:`.sweeps` that re-measures one
of the paper's tables (whose baseline the others are compared with) and the paper's ImageNet top-1 errors (%; SE-ResNet-50, one run per
variant). :func:`compare` pairs every variant with that baseline seed by seed
and says whether the difference stands out from seed-to-seed noise and
whether it points the same way as the paper's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..training import BUDGETS
from ..utils import checks
from .stats import PairedDifference, Summary, paired_difference, summarize
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

    @property
    def baseline(self) -> str:
        """The variant the others are compared with: the sweep's baseline."""
        return SWEEPS[self.sweep].baseline


#: The paper's table for each study, in the order the chapter shows them. The
#: stage study has no numbers here: the book compares it with its own runs.
STUDIES: dict[str, Study] = {
    study.sweep: study
    for study in (
        Study(
            "Reduction ratio", "reduction-ratio", "Table 10",
            {"r=2": 22.29, "r=4": 22.25, "r=8": 22.26, "r=16": 22.28, "r=32": 22.72},
        ),
        Study("Squeeze operator", "squeeze", "Table 11", {"avg": 22.28, "max": 22.57}),
        Study(
            "Excitation gate", "gate", "Table 12",
            {"sigmoid": 22.28, "tanh": 23.00, "relu": 23.47},
        ),
        Study(
            "Excitation gate, branches starting at full strength", "gate-no-zero-init",
            "Table 12", {"sigmoid": 22.28, "tanh": 23.00, "relu": 23.47},
        ),
        Study("SE in one stage", "stages", "Table 13"),
        Study(
            "Integration strategy", "placement", "Table 14",
            {"standard": 22.28, "pre": 22.23, "post": 22.78, "identity": 22.20},
        ),
    )
}  # fmt: skip

#: Standard SE (average squeeze, sigmoid gate, every stage, standard placement,
#: the small-channel rule at r = 16) appears in several studies under other
#: names; it is trained once, as the placement study's ``standard``.
STANDARD_SE = ("placement", "standard")
SAME_AS_STANDARD = frozenset({("gate", "sigmoid"), ("squeeze", "avg"), ("stages", "all stages")})


def own_variants(sweep: str) -> list[str]:
    """The variants of ``sweep`` that train a model of their own (not standard SE under another name)."""
    return [variant for variant in SWEEPS[sweep].variants if (sweep, variant) not in SAME_AS_STANDARD]


def why_not_buildable(sweep: str, variant: str, budget: str) -> str | None:
    """Why ``variant``'s model cannot be built on ``budget``'s network, or ``None`` if it can.

    >>> why_not_buildable("reduction-ratio", "r=32", "brief")[:46]
    '16 channels cannot be reduced by exactly r=32 '
    """
    chosen = SWEEPS[checks.choice("sweep", sweep, SWEEPS)]
    return chosen.why_not_buildable(variant, BUDGETS[checks.choice("budget", budget, BUDGETS)])


def accuracies(rows: Iterable[dict], sweep: str, variant: str, budget: str) -> dict[int, float]:
    """Final test accuracy per seed of one variant on one budget: ``{seed: accuracy}``.

    A variant that builds standard SE is read from :data:`STANDARD_SE`'s runs
    when the file has no runs under its own name.
    """
    rows = list(rows)

    def of(sweep: str, variant: str) -> dict[int, float]:
        return {  # rows of single runs (no "sweep") are in no study
            row["seed"]: row["test_accuracy"]
            for row in rows
            if (row.get("sweep"), row.get("variant"), row["budget"]) == (sweep, variant, budget)
        }

    found = of(sweep, variant)
    if not found and (sweep, variant) in SAME_AS_STANDARD:
        found = of(*STANDARD_SE)
    return found


@dataclass(frozen=True)
class VariantResult:
    """One variant of a study: its accuracy over seeds and its difference from the baseline.

    ``difference`` is variant minus baseline over the seeds both have (``None``
    for the baseline itself, whose ``is_baseline`` is set, or with fewer than
    two shared seeds);
    ``paper_difference`` is the paper's, in points of accuracy (its baseline's
    top-1 error minus the variant's), ``None`` where the paper has no number.
    """

    variant: str
    summary: Summary
    difference: PairedDifference | None
    paper_difference: float | None
    is_baseline: bool = False

    @property
    def ours(self) -> str:
        """``"better"``, ``"worse"`` or ``"within noise"`` than the baseline (95% interval).

        ``"baseline"`` for the baseline, and ``"too few shared seeds"`` for a
        variant that shares fewer than two seeds with it (no interval).
        """
        if self.is_baseline:
            return "baseline"
        if self.difference is None:
            return "too few shared seeds"
        if not self.difference.excludes_zero:
            return "within noise"
        return "better" if self.difference.mean > 0 else "worse"

    @property
    def agreement(self) -> str:
        """Whether a difference that stands out here points the paper's way.

        ``"same direction"`` or ``"opposite direction"`` when our interval
        excludes zero, ``"not resolved"`` when it does not, and ``"-"`` where
        there is nothing to compare (the baseline, or no paper number).
        """
        if self.difference is None or not self.paper_difference:
            return "-"
        if not self.difference.excludes_zero:
            return "not resolved"
        same = (self.difference.mean > 0) == (self.paper_difference > 0)
        return "same direction" if same else "opposite direction"


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
        paper_difference = paper_base - paper if paper is not None and paper_base is not None else None
        summary = summarize(list(runs.values()))
        results.append(
            VariantResult(variant, summary, difference, paper_difference, variant == study.baseline)
        )
    return results


def pairs_in_paper_order(results: Iterable[VariantResult], study: Study) -> tuple[int, int]:
    """How many pairs of variants our means rank as the paper does: ``(agreeing, pairs)``.

    Only variants with a paper number count; a tie on either side counts as
    disagreeing.

    >>> study = Study("t", "t", "-", {"a": 20.0, "b": 21.0, "c": 22.0})
    >>> ours = {"a": 0.90, "b": 0.80, "c": 0.85}  # b and c swapped
    >>> results = [VariantResult(v, Summary(m, 0.0, 3), None, None) for v, m in ours.items()]
    >>> pairs_in_paper_order(results, study)
    (2, 3)
    """
    ranked = [
        (r.summary.mean, -study.paper_error[r.variant]) for r in results if r.variant in study.paper_error
    ]
    pairs = list(itertools.combinations(ranked, 2))
    agreeing = sum((a[0] - b[0]) * (a[1] - b[1]) > 0 for a, b in pairs)
    return agreeing, len(pairs)


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
