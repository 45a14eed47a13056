"""Every number the chapters' prose states is shown by an output on the same page or checked here.

A "number" is a decimal, a percentage or a figure with thousands separators
in a markdown cell (outside maths and code). It passes if an output of the
same notebook shows it (rounded to the digits the prose gives), if it is
quoted from the literature (listed with its source), or if a check below
recomputes it. So a sentence cannot state a result that no code produced.
"""

import json
import re
from pathlib import Path

import pytest
import torch

from se_tutorial import count_parameters, resnet50, se_resnet50
from se_tutorial.book import speed
from se_tutorial.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NUMBER = re.compile(r"(?<![\w.{])(\d{1,3}(?:,\d{3})+|\d+\.\d+|\d+)(\s?%)?")

#: Numbers quoted from papers, with where they are quoted from.
QUOTED = {
    "02_se_block": {
        "3.86": "Hu et al., SENet, Table 2: ResNet-50 GFLOPs",
        "3.87": "Hu et al., SENet, Table 2: SE-ResNet-50 GFLOPs",
        "0.26%": "Hu et al., SENet, Sec. 4: SE's relative FLOP increase",
    },
    "03_se_resnet_block": {
        f"{error}%": "Hu et al., TPAMI, Table 14: integration strategies, top-1 error"
        for error in ("22.28", "22.23", "22.78", "22.20")
    }
    | {"22.20": "Hu et al., TPAMI, Table 14"},
    "05_evidence": {
        "23.29%": "Hu et al., TPAMI, Table 2: SE-ResNet-50 top-1 error",
        "24.80%": "Hu et al., TPAMI, Table 2: ResNet-50 top-1 error (their re-implementation)",
        "0.1%": "Hu et al., TPAMI, Sec. 4: removing the final stage's SE blocks costs < 0.1% top-5 error",
        "10%": "Hu et al., TPAMI, Sec. 4: SE-ResNet-50's relative parameter increase, about 10%",
        "4%": "Hu et al., TPAMI, Sec. 4: about 4% without the final stage's SE blocks",
        "1.51": "Hu et al., TPAMI, Table 2: ResNet-50's top-1 error minus SE-ResNet-50's (24.80 - 23.29)",
    },
    "06_ablations": {
        f"{error}%": "Hu et al., TPAMI, Table 13: SE in one stage of ResNet-50, top-1 error"
        for error in ("23.30", "23.03", "23.04", "22.68", "22.28")
    }
    | {
        "0.72": "Hu et al., TPAMI, Table 12: tanh's top-1 error minus the sigmoid's (23.00 - 22.28)",
        "1.19": "Hu et al., TPAMI, Table 12: ReLU's top-1 error minus the sigmoid's (23.47 - 22.28)",
    },
}


def _train_config_default(field):
    return getattr(TrainConfig(), field)


def _precision_benchmark(model, key):
    """A number from benchmarks/results/cpu_precision.json, which chapter 4 quotes."""
    summary = json.loads((ROOT / "benchmarks/results/cpu_precision.json").read_text())["summary"]
    return summary[model][key]


def _se_overhead(variant):
    """SE's brief float32 step over the plain one for ``variant``, from chapter 4's results file."""
    configurations = json.loads((ROOT / "benchmarks/results/cpu_se_overhead.json").read_text())[
        "configurations"
    ]
    return round(configurations["brief network (8 layers, width 1), float32"][variant]["ratio_to_resnet"], 2)


#: Numbers the prose derives without printing them, recomputed from the package.
CHECKED = {
    ("02_se_block", "10,059,776"): lambda: (
        count_parameters(se_resnet50(reduction_ratio=4)) - count_parameters(resnet50())
    ),
    ("02_se_block", "1,257,472"): lambda: (
        count_parameters(se_resnet50(reduction_ratio=32)) - count_parameters(resnet50())
    ),
    ("02_se_block", "10%"): lambda: round(
        100 * (count_parameters(se_resnet50()) / count_parameters(resnet50()) - 1)
    ),
    ("05_evidence", "0.5"): lambda: torch.sigmoid(torch.tensor(0.0)).item(),
    ("06_ablations", "0.5"): lambda: torch.sigmoid(torch.tensor(0.0)).item(),
    ("07_after_se", "1.08"): lambda: _se_overhead("SE-ResNet, readable tail"),
    ("07_after_se", "1.03"): lambda: _se_overhead("SE-ResNet, tail as one compiled kernel"),
    ("07_after_se", "1.05"): lambda: speed.SE_OVERHEAD_GOAL,
    ("04_training", "0.9"): lambda: _train_config_default("momentum"),
    ("04_training", "0.09"): lambda: -_precision_benchmark("ResNet", "bfloat16_minus_float32_points"),
    ("04_training", "0.10"): lambda: -_precision_benchmark("SE-ResNet", "bfloat16_minus_float32_points"),
    ("04_training", "0.17"): lambda: -_precision_benchmark("ResNet", "interval_points")[0],
    ("04_training", "0.00"): lambda: _precision_benchmark("ResNet", "interval_points")[1],
    ("04_training", "0.55"): lambda: -_precision_benchmark("SE-ResNet", "interval_points")[0],
    ("04_training", "0.34"): lambda: _precision_benchmark("SE-ResNet", "interval_points")[1],
    ("04_training", "1.09"): lambda: _precision_benchmark("ResNet", "median_speedup"),
    ("04_training", "1.04"): lambda: _precision_benchmark("SE-ResNet", "median_speedup"),
    ("04_training", "0.1"): lambda: _train_config_default("label_smoothing"),
    ("04_training", "0.91"): lambda: round(1 - 0.1 + 0.1 / 10, 2),
    ("04_training", "0.01"): lambda: round(0.1 / 10, 2),
}


def _prose(text: str) -> str:
    """Markdown without maths, code, roles and link targets."""
    for pattern in (
        r"\$\$.*?\$\$",
        r"\$[^$]*\$",
        r"```.*?```",
        r"\{[a-z:]+\}`[^`]*`",
        r"`[^`]*`",
        r"\]\([^)]*\)",
    ):
        text = re.sub(pattern, " ", text, flags=re.S)
    return text


def stated_numbers(notebook: dict) -> list[str]:
    numbers = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for match in NUMBER.finditer(_prose("".join(cell["source"]))):
                token = match[1] + ("%" if match[2] else "")
                if any(mark in token for mark in ".,%"):
                    numbers.append(token)
    return numbers


def shown_numbers(notebook: dict) -> list[str]:
    text = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            text.append("".join(output.get("text", "")))
            text.append("".join(output.get("data", {}).get("text/plain", "")))
    return [match[1] + ("%" if match[2] else "") for match in NUMBER.finditer("\n".join(text))]


def is_shown(stated: str, shown: list[str]) -> bool:
    """``stated`` equals a shown number rounded to the digits ``stated`` gives (same unit)."""
    percent = stated.endswith("%")
    value = stated.rstrip("%").replace(",", "")
    digits = len(value.split(".")[1]) if "." in value else 0
    for candidate in shown:
        if candidate.endswith("%") != percent:
            continue
        number = float(candidate.rstrip("%").replace(",", ""))
        if f"{number:.{digits}f}" == value:
            return True
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_is_shown_quoted_or_checked(path):
    notebook = json.loads(path.read_text())
    shown = shown_numbers(notebook)
    unsupported = [
        number
        for number in stated_numbers(notebook)
        if not is_shown(number, shown)
        and number not in QUOTED.get(path.stem, {})
        and (path.stem, number) not in CHECKED
    ]
    assert not unsupported, f"numbers in the prose that no output shows: {unsupported}"


@pytest.mark.parametrize("key", list(CHECKED), ids=lambda key: f"{key[0]}:{key[1]}")
def test_numbers_the_prose_derives_are_right(key):
    stated = key[1].rstrip("%").replace(",", "")
    assert float(CHECKED[key]()) == pytest.approx(float(stated))


def test_the_matching_rounds_rather_than_searching_substrings():
    assert is_shown("8.18", ["8.178"]) and not is_shown("8.17", ["8.178"])
    assert not is_shown("9.8%", ["9.8"]) and is_shown("60,000", ["60,000"])
    assert stated_numbers(
        {"cells": [{"cell_type": "markdown", "source": "SE adds 91.4% ($0.5$, `1.5`)"}]}
    ) == ["91.4%"]


def test_the_introductions_budget_times_come_from_the_benchmark_results():
    """The budget table of the introduction quotes benchmarks/results/budget_times_cpu.json."""
    times = json.loads((ROOT / "benchmarks/results/budget_times_cpu.json").read_text())["budgets"]
    intro = (ROOT / "book/intro.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in intro.splitlines() if line.startswith("| `")}
    assert f"| {times['smoke']['seconds_per_model']:.1f} s |" in rows["smoke"]
    assert f"| {times['brief']['seconds_per_model']:.0f} s |" in rows["brief"]
    assert f"| {times['full']['seconds_per_model'] / 3600:.1f} h (estimated) |" in rows["full"]
    assert times["full"]["measured"].startswith("estimated") and times["brief"]["measured"] == "whole run"


def test_chapter_4s_bfloat16_comparison_rests_on_three_seeds():
    """Chapter 4 quotes the bfloat16-minus-float32 differences "over three seeds"."""
    results = json.loads((ROOT / "benchmarks/results/cpu_precision.json").read_text())
    assert len(results["seeds"]) == 3
