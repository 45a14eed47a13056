"""Chapter 6's tables and figure: the ablation sweeps' runs beside the SENet paper's Tables 10-14.

* :func:`variant_costs` - what each variant adds to a plain ResNet, and its measured step time
* :func:`study_table` - one study: accuracy, paired difference from the baseline, verdict, the paper
* :func:`differences_from` - a study's variants against other runs (the plain ResNet, say)
* :func:`overview` - every study's differences, ours beside the paper's, in one figure
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..nn.cost import count_flops, count_parameters
from ..studies.ablations import STUDIES, VariantResult, accuracies, compare, why_not_buildable, with_holm
from ..studies.stats import paired_difference
from ..studies.sweeps import PLAIN, STANDARD_SE, SWEEPS
from ..training import BUDGETS
from ..utils import checks
from .chapter import COLUMN_WIDTH_IN
from .report import NotedTable, interval_text, one_header_row, p_text, seed_accuracies
from .repository import repository_file

EXAMPLE = (1, 1, 28, 28)  #: one Fashion-MNIST image, for FLOPs
#: Panel titles that fit the figure's width, where a study's title does not.
SHORT_TITLES = {"gate-zero-init": "Gate, γ starts at 0"}


def timing_note(timing: Mapping) -> str:
    """Where the step times of :data:`TIMING_FILE` were measured, in one line."""
    return (
        f"Step times: {timing['device']}, commit {timing['commit']}, {timing['date'][:10]}, batch "
        f"{timing['batch_size']}, {_rounds(timing['rounds'], timing['steps_per_round'])}, taken in turns."
    )


def _rounds(rounds: int, steps: int) -> str:
    """``"201 rounds of one step per variant"``, ``"5 rounds of 10 steps per variant"``."""
    return f"{rounds} rounds of {'one step' if steps == 1 else f'{steps} steps'} per variant"


#: The ablation-cost benchmark's results, in the repository.
TIMING_FILE = "benchmarks/results/ablation_cost_cpu.json"


def variant_costs(sweeps: Iterable[str], budget: str, repository: str) -> NotedTable:
    """:func:`cost_table` with the step times of :data:`TIMING_FILE`, read from ``repository``; the note says where they were measured."""
    timing = json.loads(repository_file(TIMING_FILE, repository).read_text())
    return NotedTable(cost_table(sweeps, budget, timing), timing_note(timing))


def cost_table(sweeps: Iterable[str], budget: str, timing: Mapping | None = None) -> pd.DataFrame:
    """What the plain ResNet, standard SE and every variant of ``sweeps`` cost on ``budget``'s network.

    Parameters and FLOPs (of one 28x28 image) are added to the plain ResNet's,
    counted on the built network; the step time, relative to standard SE, comes
    from ``timing`` (the ablation-cost benchmark's results) when it was measured
    on this budget's network, else ``"-"``. Each network is listed once: a
    variant another sweep trains (:attr:`~se_tutorial.studies.Sweep.borrowed`),
    one that differs from an earlier row only in its initialisation (the same
    costs), or one the network cannot build, is left out.
    """
    checks.choice("budget", budget, BUDGETS)
    network = BUDGETS[budget]
    plain = network.model().build(in_channels=1, num_classes=10)
    plain_parameters, plain_flops = count_parameters(plain), count_flops(plain, EXAMPLE)
    measured = timing is not None and timing.get("budget") == budget
    times = timing["variants"] if measured else {}
    candidates = [PLAIN, STANDARD_SE] + [
        (sweep, variant)
        for sweep in sweeps
        for variant in SWEEPS[checks.choice("sweep", sweep, SWEEPS)].own_variants()
    ]
    rows, listed = [], []
    for sweep, variant in candidates:
        if why_not_buildable(sweep, variant, budget):
            continue
        spec = network.model(**SWEEPS[sweep].fields(variant)).replace(zero_init_residual=False)
        if spec in listed:
            continue
        listed.append(spec)
        model = spec.build(in_channels=1, num_classes=10)
        time = times.get(f"{sweep}:{variant}", {}).get("time_vs_standard_se")
        rows.append({
            "study": sweep, "variant": variant,
            "+ parameters": f"{count_parameters(model) - plain_parameters:,}",
            "+ kFLOPs": f"{(count_flops(model, EXAMPLE) - plain_flops) / 1e3:.1f}",
            "step time vs SE": "-" if time is None else f"{time:.2f}x",
        })  # fmt: skip
    return pd.DataFrame(rows).set_index(["study", "variant"])


@dataclass(frozen=True, repr=False)
class StudyTable(NotedTable):
    """One study's results as the chapter shows them: a table and a note under it.

    ``results`` keeps the numbers (for :func:`overview`); the table holds them
    as formatted text, so the prose quotes exactly what the reader sees.
    """

    sweep: str = ""
    results: list[VariantResult] = field(default_factory=list)
    #: the figure's panel title, and the variant the results are compared with
    title: str = ""
    baseline: str = ""


def study_tables(rows: Iterable[dict], budget: str, sweeps: Iterable[str] = STUDIES) -> dict[str, StudyTable]:
    """:func:`study_table` for every study in ``sweeps``, with Holm's correction over all their comparisons.

    The studies of a chapter are read together, so their comparisons are one
    family: each table's ``p (Holm)`` column and verdict take all of them into account.
    """
    rows, sweeps = list(rows), [checks.choice("study", sweep, STUDIES) for sweep in sweeps]
    families = with_holm(
        {sweep: compare(rows, STUDIES[sweep], SWEEPS[sweep].variants, budget) for sweep in sweeps}
    )
    compared = sum(r.difference is not None for results in families.values() for r in results)
    return {sweep: study_table(results, sweep, budget, compared) for sweep, results in families.items()}


def result_row(r: VariantResult, baseline: str, first: str = "variant") -> dict[str, str]:
    """One row of a comparison table: ``r``'s accuracy, its difference from ``baseline``, the verdicts.

    ``first`` names the column that holds the variant's name.
    """
    d = r.difference
    return {
        first: r.variant, "accuracy": f"{r.summary.mean:.2%} ± {r.summary.std * 100:.2f}",
        f"minus {baseline}": "-" if d is None else f"{d.mean * 100:+.2f}",
        "95% interval": "-" if d is None else interval_text(d.low, d.high),
        "p (Holm)": "-" if r.adjusted_p is None else p_text(r.adjusted_p), "here": r.ours,
        "paper": "-" if r.paper_difference is None else f"{r.paper_difference:+.2f}",
        "vs paper": r.agreement,
    }  # fmt: skip


def seed_counts(results: Iterable[VariantResult]) -> str:
    """How many seeds the variants have: ``"5"``, or ``"3 to 5"`` where they differ."""
    seeds = sorted({r.summary.n for r in results})
    return " to ".join(map(str, seeds[:: max(1, len(seeds) - 1)]))


def study_table(results: list[VariantResult], sweep: str, budget: str, family: int) -> StudyTable:
    """One study's ``results`` (from :func:`study_tables`) as a table beside the paper's.

    One row per variant: mean test accuracy ± the standard deviation over
    seeds, the paired difference from the baseline in points and its 95%
    interval, the paired t test's p-value after Holm's correction over the
    ``family`` of comparisons, the verdict here (better, worse, within noise),
    the paper's difference (its baseline's top-1 error minus the variant's)
    and whether this budget can test it (:attr:`VariantResult.agreement`). A
    variant in the paper that this network cannot build gets a row that says
    why. The note says how many seeds, and the family's size.
    """
    study = STUDIES[checks.choice("study", sweep, STUDIES)]
    table = [result_row(r, study.baseline) for r in results]
    notes = [
        f"{budget} budget, {seed_counts(results)} seeds per variant, "
        f"baseline {study.baseline}; Holm over the chapter's {family} comparisons"
    ]
    if study.paper_error:
        notes.append(f"paper: {study.source}, top-1 error of one run per variant")
    shown = {r.variant for r in results}
    for variant in study.paper_error:
        if variant not in shown:
            reason = why_not_buildable(sweep, variant, budget) or "no runs on this budget"
            table.append({"variant": variant, "here": "not run"})
            notes.append(f"{variant} not run: {reason.split(' (')[0]}")
    frame = pd.DataFrame(table).set_index("variant").fillna("-").pipe(one_header_row)
    if not study.paper_error:
        frame = frame.drop(columns=["paper", "vs paper"])
    title = SHORT_TITLES.get(sweep, study.title)
    return StudyTable(frame, "; ".join(notes) + ".", sweep, results, title, study.baseline)


def differences_from(
    rows: Iterable[dict], sweep: str, budget: str, reference: Iterable[dict], variant: str, name: str
) -> pd.DataFrame:
    """Each variant of ``sweep`` minus the ``reference`` runs of ``variant`` (called ``name``), paired by seed."""
    rows = list(rows)
    other = seed_accuracies(reference, variant)
    table = []
    for shown in SWEEPS[checks.choice("sweep", sweep, SWEEPS)].variants:
        runs = accuracies(rows, sweep, shown, budget)
        seeds = sorted(set(runs) & set(other))
        if len(seeds) < 2:
            continue
        d = paired_difference([other[s] for s in seeds], [runs[s] for s in seeds])
        table.append({"variant": shown, f"minus {name}": f"{d.mean * 100:+.2f}",
                      "95% interval": interval_text(d.low, d.high), "seeds": d.n})  # fmt: skip
    if not table:
        raise ValueError(f"no variant of {sweep} shares two seeds with the {name} runs; run more seeds.")
    return pd.DataFrame(table).set_index("variant").pipe(one_header_row)


def overview(tables: Mapping[str, StudyTable]) -> Figure:
    """Every study's paired differences (dots, 95% intervals as bars) and the paper's (hollow diamonds).

    One panel per study, stacked, each on its own scale: compare the side of
    zero each mark lies on, not distances across panels.
    """
    heights = [1 + len([r for r in t.results if r.difference is not None]) for t in tables.values()]
    fig, axes = plt.subplots(
        len(tables), 1, figsize=(COLUMN_WIDTH_IN, 0.42 * sum(heights) + 0.6 * len(tables) + 0.6),
        height_ratios=heights, squeeze=False,
    )  # fmt: skip
    for ax, shown in zip(axes[:, 0], tables.values(), strict=True):
        compared = [r for r in shown.results if r.difference is not None]
        for y, r in enumerate(compared):
            d = r.difference
            ax.plot([d.low * 100, d.high * 100], [y, y], color="black")
            ax.plot(d.mean * 100, y, "o", color="black")
            if r.paper_difference is not None:
                ax.plot(r.paper_difference, y, "D", mfc="none", color="tab:orange")
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_yticks(range(len(compared)), [r.variant for r in compared])
        ax.set_ylim(len(compared) - 0.4, -0.6)  # top to bottom in the tables' order
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_title(f"{shown.title} (vs {shown.baseline})", loc="left")
    axes[-1, 0].set_xlabel("difference from the baseline (points)")
    axes[0, 0].plot([], [], "o", color="black", label="here (95% interval)")
    axes[0, 0].plot([], [], "D", mfc="none", color="tab:orange", label="paper")
    fig.legend(loc="outside lower center", ncols=2)
    return fig
