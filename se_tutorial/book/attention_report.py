"""Chapter 7's tables and figure: the modules after SE on one network and one recipe, beside their papers.

* :func:`template_table` - every module as gather, transform, fuse
* :func:`frequency_figure` - the DCT basis functions FcaNet squeezes with
* :func:`paper_table` - the papers' own ImageNet numbers, by table
* :func:`module_costs` - what each module adds to the plain ResNet, and its measured step time
* :func:`module_tables` - each module against the plain ResNet and against SE, paired by seed,
  Holm-corrected over both tables, with each paper's ImageNet difference beside ours
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from operator import attrgetter

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ..nn.attention import TEMPLATES, dct_basis
from ..nn.attention.fca import select_frequencies
from ..nn.cost import count_flops, count_parameters
from ..studies.ablations import Study, VariantResult, compare, with_holm
from ..studies.sweeps import SWEEPS
from ..training import BUDGETS
from ..utils import checks
from .ablation_report import EXAMPLE, StudyTable, result_row, seed_counts, timing_note
from .chapter import COLUMN_WIDTH_IN
from .report import NotedTable, one_header_row
from .repository import repository_file

SWEEP = "attention"
#: The attention-cost benchmark's results (``benchmarks/ablation_cost.py --sweeps attention``).
TIMING_FILE = "benchmarks/results/attention_cost_cpu.json"
#: How the chapter names each variant of the sweep.
LABELS = {
    "resnet": "plain ResNet", "se": "SE", "ese": "eSE", "eca": "ECA", "fca": "FcaNet", "srm": "SRM",
    "gc": "GC", "ge": "GE-θ⁻", "ge-theta": "GE-θ", "cbam": "CBAM", "coord": "coordinate", "simam": "SimAM",
}  # fmt: skip


@dataclass(frozen=True)
class PaperResult:
    """A module's ImageNet result as its own paper reports it: top-1 accuracy (%), single crop.

    ``plain`` is the paper's own baseline network and ``se`` its SE network, from the
    same table, where the table lists one.
    """

    source: str  #: paper and table
    backbone: str
    plain: float
    module: float
    se: float | None = None

    @property
    def gain(self) -> float:
        """The module's gain over the paper's plain network, in points."""
        return round(self.module - self.plain, 2)

    @property
    def gain_over_se(self) -> float | None:
        """The module's gain over the paper's SE network, in points (``None`` without one)."""
        return None if self.se is None else round(self.module - self.se, 2)


#: Each module's paper's numbers, where its own table gives a plain baseline beside the module
#: (top-1 error converted to accuracy: 100 minus it). SENet's and CBAM's tables give errors;
#: CBAM's, SRM's and coordinate attention's are their ImageNet tables as the authors' repositories
#: reproduce them. Left out: eSE (CenterMask reports COCO only), GC, GE, SimAM and FcaNet (their
#: baselines could not be checked against the papers' tables here).
PAPERS: dict[str, PaperResult] = {
    "se": PaperResult("SENet (TPAMI), Table 2", "ResNet-50", plain=100 - 24.80, module=100 - 23.29),
    "eca": PaperResult("ECA-Net, Table 3", "ResNet-50", plain=75.20, module=77.48, se=76.71),
    "cbam": PaperResult(
        "CBAM, ImageNet-1K table", "ResNet-50", plain=100 - 24.56, module=100 - 22.66, se=100 - 23.14
    ),
    "srm": PaperResult("SRM, ImageNet-1K table", "ResNet-50", plain=75.89, module=77.13, se=76.80),
    "coord": PaperResult("CA, ImageNet table", "MobileNetV2", plain=72.3, module=74.3, se=73.5),
}


#: What the template table's symbols mean, under it.
TEMPLATE_NOTE = (
    "C/r and C': bottleneck widths; k: ECA's kernel size; e: GE-θ's extent (4 here); K: FcaNet's "
    "number of frequencies; hard sigmoid and h-swish: cheap piecewise versions of the sigmoid "
    "and of x · sigmoid(x)."
)


def template_table() -> NotedTable:
    """Every module as one gather-transform-fuse template (:data:`~se_tutorial.nn.attention.TEMPLATES`).

    Shown whole: the table's HTML keeps every cell's full text.
    """
    rows = {LABELS[name]: template._asdict() for name, template in TEMPLATES.items()}
    return NotedTable(
        pd.DataFrame.from_dict(rows, orient="index").rename_axis(columns="module"), TEMPLATE_NOTE
    )


def frequency_figure(frequencies: str = "top16", size: int = 7, columns: int = 4) -> Figure:
    """The 2-D DCT basis functions of FcaNet's ``frequencies`` on a ``size x size`` grid, one panel each.

    Each panel is titled by its frequency ``(u, v)``; the first of ``"top16"`` is
    ``(0, 0)``, the constant that makes the squeeze an average.
    """
    chosen = select_frequencies(frequencies, size)
    basis = dct_basis(size, size, chosen)  # (K, S, S)
    rows = -(-len(chosen) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(COLUMN_WIDTH_IN, COLUMN_WIDTH_IN * rows / columns + 0.3), squeeze=False
    )
    limit = float(basis.abs().max())
    for ax, (u, v), image in zip(axes.flat, chosen, basis, strict=False):
        ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"({u}, {v})", pad=2)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig


def paper_table() -> pd.DataFrame:
    """The papers' ImageNet numbers (:data:`PAPERS`): each module's, its own plain and SE baselines'."""
    rows = {
        LABELS[name]: {
            "paper, table": p.source, "network": p.backbone, "plain": f"{p.plain:.2f}",
            "SE": "-" if p.se is None else f"{p.se:.2f}", "module": f"{p.module:.2f}",
        }
        for name, p in PAPERS.items()
    }  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(columns="module")


def module_costs(budget: str, repository: str) -> NotedTable:
    """Parameters and multiply-adds each module adds to ``budget``'s plain ResNet, and its step time.

    Multiply-adds are half the FLOPs that :func:`~se_tutorial.nn.count_flops`
    counts for one 28x28 image: matrix products and convolutions only, so a
    module made of elementwise operations and reductions (SimAM, GE-θ⁻) adds
    none, and its cost shows only in the time. The step time, relative to the
    plain ResNet in the same round, comes from :data:`TIMING_FILE` (``"-"``
    where it timed another budget's network); the note says where it was measured.
    """
    timing = json.loads(repository_file(TIMING_FILE, repository).read_text())
    network = BUDGETS[checks.choice("budget", budget, BUDGETS)]
    times = timing["variants"] if timing.get("budget") == budget else {}  # else "-": another network
    plain = network.model().build(in_channels=1, num_classes=10)
    plain_parameters, plain_flops = count_parameters(plain), count_flops(plain, EXAMPLE)
    rows = {}
    for variant in SWEEPS[SWEEP].variants:
        model = network.model(**SWEEPS[SWEEP].fields(variant)).build(in_channels=1, num_classes=10)
        rows[LABELS[variant]] = {
            "+ parameters": f"{count_parameters(model) - plain_parameters:,}",
            "+ kMACs": f"{(count_flops(model, EXAMPLE) - plain_flops) / 2e3:.1f}",
            "step time vs plain": _time_cell(times.get(f"{SWEEP}:{variant}", {})),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis(columns="module")
    return NotedTable(frame, timing_note(timing))


def _time_cell(timing: Mapping) -> str:
    """``"1.03x [1.01, 1.05]"``: a step time relative to the plain network's, with its interval where measured."""
    if "time_vs_plain" not in timing:
        return "-"
    interval = timing.get("time_vs_plain_interval_95")
    # No-break spaces: a phone's narrow column must not split the interval over two lines.
    return f"{timing['time_vs_plain']:.2f}x" + (
        f"\u00a0[{interval[0]:.2f},\u00a0{interval[1]:.2f}]" if interval else ""
    )


#: The two comparisons the chapter reads together: every module against plain, and against SE.
VS_PLAIN = Study("Every module", SWEEP, "each module's paper")
VS_SE = Study("Every other module", SWEEP, "each module's paper", reference="se")


def module_tables(rows: Iterable[dict], budget: str) -> dict[str, StudyTable]:
    """Each module against the plain ResNet (``"plain"``) and against SE (``"se"``), paired by seed.

    Both tables are one family: every p-value is Holm-corrected over all their
    comparisons together. Beside each difference stands its paper's (the
    module's ImageNet top-1 accuracy minus the paper's plain or SE network's,
    :data:`PAPERS`) and whether this budget can test it
    (:attr:`~se_tutorial.studies.ablations.VariantResult.agreement`).
    """
    rows = list(rows)
    modules = [v for v in SWEEPS[SWEEP].variants if v != "resnet"]
    families = {
        "plain": _with_papers(compare(rows, VS_PLAIN, ["resnet", *modules], budget), attrgetter("gain")),
        "se": _with_papers(compare(rows, VS_SE, modules, budget), attrgetter("gain_over_se")),
    }
    families = {  # the chapter's names from here on (the papers are matched by the sweep's)
        key: [replace(r, variant=LABELS[r.variant]) for r in results]
        for key, results in with_holm(families).items()
    }
    compared = sum(r.difference is not None for results in families.values() for r in results)
    return {
        key: _table(results, study, budget, compared)
        for (key, results), study in zip(families.items(), (VS_PLAIN, VS_SE), strict=True)
    }


def _with_papers(
    results: list[VariantResult], gain: Callable[[PaperResult], float | None]
) -> list[VariantResult]:
    """``results`` with each module's paper's ``gain`` beside it (none for the baseline)."""
    return [
        replace(
            r, paper_difference=None if r.is_baseline or r.variant not in PAPERS else gain(PAPERS[r.variant])
        )
        for r in results
    ]


def _table(results: list[VariantResult], study: Study, budget: str, family: int) -> StudyTable:
    baseline = LABELS[study.baseline]
    table = [result_row(r, baseline, first="module") for r in results]
    papers = "plain network's" if study.baseline == "resnet" else "SE network's"
    note = (
        f"{budget} budget, {seed_counts(results)} seeds per module, "
        f"paired by seed with {baseline}; Holm over the chapter's {family} comparisons; paper: its "
        f"ImageNet top-1 accuracy minus its own {papers}, one run each."
    )
    frame = pd.DataFrame(table).set_index("module").fillna("-").pipe(one_header_row)
    return StudyTable(frame, note, SWEEP, results, study.title, baseline)
