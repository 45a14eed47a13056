"""Chapter 6's tables against hand computations on made-up runs, and its figure's size."""

import json
from pathlib import Path

import matplotlib
import pytest

from se_tutorial.book.ablation_report import (
    cost_table,
    differences_from,
    overview,
    study_table,
    timing_note,
    variant_costs,
)
from se_tutorial.book.chapter import COLUMN_WIDTH_IN
from se_tutorial.studies import STUDIES

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[2]


def row(sweep, variant, seed, accuracy, budget="brief"):
    return {"sweep": sweep, "variant": variant, "seed": seed, "test_accuracy": accuracy, "budget": budget}


def squeeze_rows():
    # max is 0.30 points below avg in every seed, except that seed 2's gap is 0.60.
    rows = [row("placement", "standard", s, a) for s, a in ((0, 0.9100), (1, 0.9150), (2, 0.9200))]
    return rows + [row("squeeze", "max", s, a) for s, a in ((0, 0.9070), (1, 0.9120), (2, 0.9140))]


def test_a_study_table_pairs_by_seed_and_says_what_the_paper_found():
    shown = study_table(squeeze_rows(), "squeeze", "brief")
    table = shown.table
    assert list(table.index) == ["avg", "max"]  # avg is standard SE, read from the placement runs
    assert table.loc["avg", "here"] == "baseline" and table.loc["avg", "minus avg"] == "-"
    assert table.loc["max", "minus avg"] == "-0.40"  # mean of -0.30, -0.30, -0.60
    assert table.loc["max", "accuracy"] == "91.10% ± 0.36"
    # sd of the differences 0.1732 points; t(0.975, 2) = 4.3027: half-width 0.43
    assert table.loc["max", "95% interval"] == "[-0.83, +0.03]"
    assert table.loc["max", "here"] == "within noise" and table.loc["max", "vs paper"] == "not resolved"
    assert table.loc["max", "paper"] == "-0.29"  # 22.28% - 22.57%
    assert shown.note == (
        "brief budget, 3 seeds per variant, baseline avg; "
        "1 of 1 pairs of variants ranked as in the paper (Table 11)."
    )
    assert "<table" in shown._repr_html_() and shown.note in repr(shown)


def test_a_variant_the_network_cannot_build_says_why():
    rows = [row("reduction-ratio", v, s, 0.9 + s / 100) for v in ("r=2", "r=16") for s in (0, 1)]
    shown = study_table(rows, "reduction-ratio", "brief")
    assert shown.table.loc["r=32", "here"] == "not run"
    assert "r=32 not run: 16 channels cannot be reduced by exactly r=32" in shown.note


def test_a_study_without_paper_numbers_has_no_paper_columns():
    rows = [row("stages", v, s, 0.9) for v in ("all stages", "stage 1 only") for s in (0, 1)]
    assert "paper" not in study_table(rows, "stages", "brief").table.columns
    with pytest.raises(ValueError, match="study"):
        study_table(rows, "no-such-study", "brief")


def test_differences_from_other_runs_pair_by_seed():
    rows = [row("stages", "stage 3 only", s, a) for s, a in ((0, 0.915), (1, 0.917), (2, 0.920))]
    plain = [row("se-vs-plain", "resnet", s, a) for s, a in ((0, 0.922), (1, 0.9215), (2, 0.9225), (7, 0.5))]
    table = differences_from(rows, "stages", "brief", plain, "resnet", "plain ResNet")
    assert table.loc["stage 3 only", "minus plain ResNet"] == "-0.47"  # mean of -0.70, -0.45, -0.25
    assert table.loc["stage 3 only", "seeds"] == 3
    with pytest.raises(ValueError, match="shares two seeds"):
        differences_from(
            rows, "stages", "brief", [row("se-vs-plain", "resnet", 9, 0.9)], "resnet", "plain ResNet"
        )


def test_costs_list_each_network_once_with_its_measured_step_time():
    timing = json.loads((ROOT / "benchmarks/results/ablation_cost_cpu.json").read_text())
    table = cost_table(["se-vs-plain", *STUDIES], "brief", timing)
    listed = list(table.index)
    assert ("se-vs-plain", "resnet") in listed and ("placement", "standard") in listed
    # standard SE under other names is listed once, as placement:standard
    for duplicate in (("se-vs-plain", "se-resnet"), ("gate", "sigmoid"), ("squeeze", "avg")):
        assert duplicate not in listed
    assert ("reduction-ratio", "r=32") not in listed  # cannot be built on ResNet-8
    assert table.loc[("se-vs-plain", "resnet"), "+ parameters"] == "0"
    assert table.loc[("placement", "standard"), "+ parameters"] == "896"
    step = timing["variants"]["squeeze:max"]["time_vs_standard_se"]
    assert table.loc[("squeeze", "max"), "step time vs SE"] == f"{step:.2f}x"
    # measured on another budget's network: no step times
    assert set(cost_table(["squeeze"], "full", timing)["step time vs SE"]) == {"-"}
    assert timing_note(timing).startswith(f"Step times: {timing['device']}, commit {timing['commit']}")


def test_variant_costs_read_the_benchmarks_results_from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)  # inside the clone, its own file is read
    shown = variant_costs(
        ["squeeze"], "brief", "https://github.com/se-tutorial/se-tutorial"
    )  # in a clone: its file
    timing = json.loads((ROOT / "benchmarks/results/ablation_cost_cpu.json").read_text())
    assert shown.note == timing_note(timing)
    assert list(shown.table.index) == [("squeeze", "max")]


def test_the_overview_is_one_column_wide():
    rows = squeeze_rows() + [row("placement", "pre", s, 0.92) for s in (0, 1, 2)]
    tables = {sweep: study_table(rows, sweep, "brief") for sweep in ("squeeze", "placement")}
    figure = overview(tables)
    assert figure.get_figwidth() == pytest.approx(COLUMN_WIDTH_IN)
    assert len(figure.axes) == 2
