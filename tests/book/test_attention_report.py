"""Chapter 7's tables against hand computations on made-up runs, and its figures."""

import json

import matplotlib
import pytest

from se_tutorial.book import attention_report
from se_tutorial.book.ablation_report import overview
from se_tutorial.book.attention_report import (
    LABELS,
    PAPERS,
    frequency_figure,
    module_costs,
    module_tables,
    paper_table,
    template_table,
)
from se_tutorial.book.chapter import COLUMN_WIDTH_IN
from se_tutorial.studies import SWEEPS

matplotlib.use("Agg")
MODULES = [v for v in SWEEPS["attention"].variants if v != "resnet"]


def row(variant, seed, accuracy, budget="brief"):
    return {
        "sweep": "attention",
        "variant": variant,
        "seed": seed,
        "test_accuracy": accuracy,
        "budget": budget,
    }


def runs():
    """Plain at 91.00, 91.10, 91.20%; SE 0.10 points above it in each seed; ECA 0.30, 0.30, 0.60 above SE."""
    plain = {0: 0.9100, 1: 0.9110, 2: 0.9120}
    rows = [row("resnet", s, a) for s, a in plain.items()]
    rows += [row("se", s, a + 0.0010) for s, a in plain.items()]
    rows += [
        row("eca", s, a + 0.0010 + gap)
        for (s, a), gap in zip(plain.items(), (0.003, 0.003, 0.006), strict=True)
    ]
    return rows


def test_every_module_of_the_sweep_has_a_label_and_a_template_row():
    assert set(LABELS) == set(SWEEPS["attention"].variants)
    shown = template_table()
    assert list(shown.table.index) == [LABELS[name] for name in attention_report.TEMPLATES]
    assert "..." not in shown._repr_html_()  # long cells are shown whole
    assert set(PAPERS) <= set(MODULES)


def test_modules_are_paired_by_seed_with_plain_and_with_se_and_corrected_together():
    tables = module_tables(runs(), "brief")
    plain, se = tables["plain"].table, tables["se"].table
    assert list(plain.index) == ["plain ResNet", "SE", "ECA"] and list(se.index) == ["SE", "ECA"]
    assert plain.loc["plain ResNet", "here"] == "baseline" and se.loc["SE", "here"] == "baseline"
    assert plain.loc["SE", "minus plain ResNet"] == "+0.10"
    assert plain.loc["ECA", "minus plain ResNet"] == "+0.50"  # mean of 0.40, 0.40, 0.70
    assert se.loc["ECA", "minus SE"] == "+0.40"  # mean of 0.30, 0.30, 0.60
    # sd of ECA - SE: 0.1732 points; t(0.975, 2) = 4.3027: half-width 0.43
    assert se.loc["ECA", "95% interval"] == "[-0.03, +0.83]"
    # three comparisons in one family: the note says so under both tables
    assert "Holm over the chapter's 3 comparisons" in tables["plain"].note
    assert "Holm over the chapter's 3 comparisons" in tables["se"].note
    # The papers' gains: ECA-Net's Table 3, 77.48 - 75.20 over plain and 77.48 - 76.71 over SE.
    assert plain.loc["ECA", "paper"] == "+2.28" and se.loc["ECA", "paper"] == "+0.77"
    assert plain.loc["SE", "paper"] == "+1.51"  # SENet's Table 2: 24.80% - 23.29% top-1 error
    assert "own plain network's" in tables["plain"].note and "own SE network's" in tables["se"].note


def test_a_module_against_se_is_better_only_if_it_survives_holm():
    rows = runs()
    rows += [row("simam", s, 0.9110 + 0.0010 * s + 0.0100 + 0.0001 * s) for s in (0, 1, 2)]
    se = module_tables(rows, "brief")["se"]
    # SimAM is 1.00, 1.01, 1.02 points above SE: a tight interval far from zero.
    assert se.table.loc["SimAM", "here"] == "better"
    assert se.table.loc["SimAM", "p (Holm)"] in ("<0.001", "0.001")


def test_the_overview_has_one_panel_per_comparison_and_fits_the_column():
    figure = overview(module_tables(runs(), "brief"))
    assert [ax.get_title(loc="left") for ax in figure.axes] == [
        "Every module (vs plain ResNet)",
        "Every other module (vs SE)",
    ]
    assert figure.get_figwidth() == pytest.approx(COLUMN_WIDTH_IN)


def test_the_cost_table_reads_times_measured_on_its_budget_only(tmp_path, monkeypatch):
    variants = {
        f"attention:{v}": {"time_vs_plain": 1.0 + i / 10} for i, v in enumerate(SWEEPS["attention"].variants)
    }
    variants["attention:eca"]["time_vs_plain_interval_95"] = [1.234, 1.3]  # newer files give the interval
    timing = {"budget": "brief", "device": "a CPU", "commit": "abc", "date": "2026-12-04T00:00:00",
              "batch_size": 128, "rounds": 5, "steps_per_round": 10, "variants": variants}  # fmt: skip
    (tmp_path / "timing.json").write_text(json.dumps(timing))
    monkeypatch.setattr(
        attention_report, "repository_file", lambda path, repository: tmp_path / "timing.json"
    )
    shown = module_costs("brief", "https://example.org/repo")
    table = shown.table
    assert table.loc["plain ResNet", "+ parameters"] == "0" and table.loc["SimAM", "+ parameters"] == "0"
    assert table.loc["plain ResNet", "step time vs plain"] == "1.00x"
    assert table.loc["SE", "step time vs plain"] == "1.10x"
    eca = variants["attention:eca"]["time_vs_plain"]
    assert table.loc["ECA", "step time vs plain"] == f"{eca:.2f}x\u00a0[1.23,\u00a01.30]"
    assert table.loc["SE", "+ parameters"] == "896"  # 2 * (16*8 + 32*2 + 64*4), bias-free
    assert "a CPU, commit abc, 2026-12-04" in shown.note
    other = module_costs("smoke", "https://example.org/repo").table
    assert set(other["step time vs plain"]) == {"-"}  # timed on brief's network, not smoke's


def test_the_paper_table_converts_errors_to_accuracy():
    table = paper_table()
    assert table.loc["SE", "plain"] == "75.20" and table.loc["SE", "module"] == "76.71"
    assert table.loc["CBAM", "SE"] == "76.86"  # 100 - 23.14% top-1 error


def test_the_frequency_figure_draws_one_panel_per_frequency_starting_with_the_average():
    figure = frequency_figure("top16")
    titled = [ax for ax in figure.axes if ax.get_title()]
    assert len(titled) == 16 and titled[0].get_title() == "(0, 0)"
    image = titled[0].images[0].get_array()
    assert float(image.max() - image.min()) == pytest.approx(0)  # the constant basis function
    assert figure.get_figwidth() == pytest.approx(COLUMN_WIDTH_IN)
