"""Chapter 4's account of what made CPU training fast, from the benchmarks' results files.

* :func:`lever_table` - the brief network's training step, lever by lever
  (``benchmarks/cpu_levers.py``), as seconds per epoch
* :func:`recipe_table` - the recipe end to end over seeds (``benchmarks/cpu_recipe.py``)
* :func:`compile_note` - whether ``torch.compile`` paid off (``benchmarks/cpu_compile.py``)

Each reads its file from the repository (the clone's, or fetched), so a
chapter shows what was measured, with where and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from .report import NotedTable
from .repository import repository_file

LEVERS_FILE = "benchmarks/results/cpu_levers.json"
RECIPE_FILE = "benchmarks/results/cpu_recipe.json"
COMPILE_FILE = "benchmarks/results/cpu_compile.json"
NETWORKS = ("ResNet", "SE-ResNet")


def measured_where(record: Mapping) -> str:
    """``"AMD EPYC (...), commit 1a2b3c4, 2026-12-02"``: a benchmark's machine, commit and date."""
    return f"{record['device']}, commit {record['commit'][:7]}, {record['date'][:10]}"


def lever_table(levers: Mapping) -> NotedTable:
    """One row per rung of the lever ladder: each network's seconds per epoch, and the SE-ResNet's speed-up.

    ``levers`` is the levers benchmark's record. "x faster" is the SE-ResNet's
    speed-up over the rung before; "of peak" is the share of the CPU's
    arithmetic peak (float32's or bfloat16's, whichever the rung computes in)
    that the SE-ResNet's step reaches.
    """
    configurations = levers["configurations"]
    rungs = list(dict.fromkeys(name.split(": ", 1)[1] for name in configurations))
    rows, before = [], None
    for rung in rungs:
        se = configurations[f"SE-ResNet: {rung}"]
        plain = configurations.get(f"ResNet: {rung}")
        rows.append({
            "lever": rung,
            "ResNet s/epoch": "-" if plain is None else f"{plain['seconds_per_epoch']:.1f}",
            "SE-ResNet s/epoch": f"{se['seconds_per_epoch']:.1f}",
            "x faster": "" if before is None else f"{before / se['seconds_per_epoch']:.2f}",
            "of peak": f"{se['share_of_peak']:.0%}",
        })  # fmt: skip
        before = se["seconds_per_epoch"]
    note = (
        f"Training steps only, batch {levers['batch']}, {levers['steps_per_epoch']} steps an epoch; "
        f"median of {levers['rounds']} interleaved rounds; {measured_where(levers)}."
    )
    return NotedTable(pd.DataFrame(rows).set_index("lever"), note)


def recipe_table(recipe: Mapping) -> NotedTable:
    """Each network's runs of the recipe: mean and lowest test accuracy, mean and longest wall time."""
    rows = {
        name: {
            "seeds": len(network["runs"]),
            "mean accuracy": f"{network['mean_accuracy']:.2%}",
            "lowest": f"{network['lowest_accuracy']:.2%}",
            "mean s": f"{network['mean_wall_seconds']:.1f}",
            "longest s": f"{network['longest_wall_seconds']:.1f}",
        }
        for name, network in recipe["networks"].items()
    }
    note = (
        f"{recipe['budget']} budget: {recipe['epochs']} epochs, batch {recipe['batch_size']}, "
        f"{recipe['precision']}; wall time of fit (training and every epoch's evaluation); "
        f"{measured_where(recipe)}."
    )
    return NotedTable(pd.DataFrame.from_dict(rows, orient="index").rename_axis("network"), note)


def compile_note(compiled: Mapping) -> str:
    """One line: what ``torch.compile`` cost up front and what it did to a step, from its benchmark."""
    parts = []
    for name, row in compiled["networks"].items():
        parts.append(
            f"{name}: {row['compile_seconds']:.0f} s to compile, then steps {row['speedup']:.2f}x as fast"
        )
    return "; ".join(parts) + f" ({measured_where(compiled)})."


def read(path: str, repository: str) -> dict:
    """A benchmark's results file from ``repository``, as a dict."""
    return json.loads(repository_file(path, repository).read_text())
