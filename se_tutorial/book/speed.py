"""Chapter 4's account of what made CPU training fast, from the benchmarks' results files.

* :func:`lever_table` - the brief network's training step, lever by lever
  (``benchmarks/cpu_levers.py``), as seconds per epoch
* :func:`recipe_table` - the recipe end to end over seeds, on one machine or several
  (``benchmarks/cpu_recipe.py``)
* :func:`se_overhead` - the SE-ResNet's step time over the ResNet's (``benchmarks/cpu_se_overhead.py``)
* :func:`other_levers` - keeping freed memory, evaluation, and ``torch.compile``
  (``benchmarks/cpu_levers.py`` and ``benchmarks/cpu_compile.py``)

Each reads its file from the repository (the clone's, or fetched), so a
chapter shows what was measured, with where and when.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import pandas as pd

from .report import NotedTable
from .repository import repository_file

LEVERS_FILE = "benchmarks/results/cpu_levers.json"
RECIPE_FILE = "benchmarks/results/cpu_recipe.json"
#: The recipe's records on every machine it was measured on: the latest, then earlier machines' (kept by name).
RECIPE_FILES = (RECIPE_FILE, "benchmarks/results/cpu_recipe_intel_xeon.json")
COMPILE_FILE = "benchmarks/results/cpu_compile.json"
OVERHEAD_FILE = "benchmarks/results/cpu_se_overhead.json"
#: What the book asks of SE on a CPU: a step at most this many times the plain network's.
SE_OVERHEAD_GOAL = 1.05
NETWORKS = ("ResNet", "SE-ResNet")


def measured_where(record: Mapping) -> str:
    """``"AMD EPYC (...), commit 1a2b3c4, 2026-12-02"``: a benchmark's machine, commit and date."""
    return f"{record['device']}, commit {record['commit'][:7]}, {record['date'][:10]}"


def lever_table(levers: Mapping) -> NotedTable:
    """One row per rung of the lever ladder: each network's seconds per epoch, and the SE-ResNet's speed-up.

    ``levers`` is the levers benchmark's record. "x faster" is the SE-ResNet's
    speed-up over the rung before (paired round by round in the benchmark); "of peak" is the share of the CPU's
    arithmetic peak (float32's or bfloat16's, whichever the rung computes in)
    that the SE-ResNet's step reaches.
    """
    configurations = levers["configurations"]
    rungs = [name.split(": ", 1)[1] for name in configurations if name.startswith("SE-ResNet: ")]
    rows = []
    for rung in rungs:
        se = configurations[f"SE-ResNet: {rung}"]
        plain = configurations.get(f"ResNet: {rung}")
        speedup = se.get("speedup_over_rung_before")
        rows.append({
            "lever": rung,
            "ResNet s/epoch": "-" if plain is None else f"{plain['seconds_per_epoch']:.1f}",
            "SE-ResNet s/epoch": f"{se['seconds_per_epoch']:.1f}",
            "x faster": "" if speedup is None else f"{speedup:.2f}",
            "of peak": f"{se['share_of_peak']:.0%}",
        })  # fmt: skip
    peaks = ", ".join(f"{name} {value:.0f}" for name, value in levers["peak_gflop_per_second"].items())
    note = (
        f"Training steps only, batch {levers['batch']}, {levers['steps_per_epoch']} steps an epoch, "
        f"seconds the median of {levers['rounds']} rounds taken in turns. 'x faster' and 'of peak' are "
        "the SE-ResNet's: its speed-up over the row above, paired within each round (the ratio of two "
        "medians can differ by up to a tenth), and its FLOP rate over a large matrix product's "
        f"(GFLOP/s: {peaks}). {measured_where(levers)}."
    )
    return NotedTable(pd.DataFrame(rows).set_index("lever"), note)


def recipe_table(*recipes: Mapping) -> NotedTable:
    """Each machine's and network's runs of the recipe: mean and lowest test accuracy, mean and longest wall time.

    ``recipes`` are records of the recipe benchmark, one per machine, all of
    one recipe; a row is named by the machine's :func:`cpu_label` and the network.
    """
    rows = {
        (cpu_label(recipe["device"]), name): {
            "seeds": len(network["runs"]),
            "mean accuracy": f"{network['mean_accuracy']:.2%}",
            "lowest": f"{network['lowest_accuracy']:.2%}",
            "mean s": f"{network['mean_wall_seconds']:.1f}",
            "longest s": f"{network['longest_wall_seconds']:.1f}",
        }
        for recipe in recipes
        for name, network in recipe["networks"].items()
    }
    recipe, goal = recipes[0], recipes[0]["goal"]
    machines = "; ".join(f"{cpu_label(r['device'])}: {measured_where(r)}" for r in recipes)
    note = (
        f"{recipe['budget']} budget: {recipe['epochs']} epochs, batch {recipe['batch_size']}, "
        f"{recipe['precision']}; wall time of fit (training and every epoch's evaluation); goal: mean "
        f"{goal['mean_accuracy']:.1%} or more, every seed {goal['lowest_accuracy']:.1%} or more, every run "
        f"{goal['wall_seconds']:.0f} s or less. {machines}."
    )
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["CPU", "network"])
    return NotedTable(table, note)


def cpu_label(device: str) -> str:
    """A CPU's name and its widest vector instructions, from a device string: ``"Intel Xeon, AVX-512"``.

    >>> cpu_label("Intel(R) Xeon(R) Processor (family 6 model 167, x86_64, 2 threads, AVX2, AVX-512)")
    'Intel Xeon, AVX-512'
    >>> cpu_label("AMD EPYC (family 25 model 1, x86_64, 2 threads, AVX2)")
    'AMD EPYC, AVX2'
    """
    name = device.split(" (")[0].replace("(R)", "").replace(" Processor", "").strip()
    details = re.search(r"\(([^()]*)\)\s*$", device)  # the last parentheses: family, threads, ISAs
    features = details[1].split(", ") if details else []
    widest = next((isa for isa in ("AVX-512", "AVX2") if isa in features), None)
    return f"{name}, {widest}" if widest else name


def se_overhead(overhead: Mapping) -> NotedTable:
    """The SE-ResNet's training step over the ResNet's, per network and precision, for each way of computing the tail.

    Each cell is the median of the rounds' ratios and its 95% interval. A dash
    marks a variant the benchmark did not run there: the compiled kernel is
    built for float32 maps, not bfloat16 ones.
    """
    columns = {
        "SE-ResNet, readable tail": "readable",
        "SE-ResNet, tail as one function of PyTorch operations": "one function",
        "SE-ResNet, tail as one compiled kernel": "compiled kernel",
    }
    rows = {}
    for name, variants in overhead["configurations"].items():
        rows[_network_label(name)] = {
            column: _ratio_cell(variants[variant]) if variant in variants else "-"
            for variant, column in columns.items()
        }
    rounds = overhead["rounds"]  # one count, or one per network
    counted = (
        f"{rounds} rounds"
        if isinstance(rounds, int)
        else " and ".join(f"{count} rounds ({network})" for network, count in rounds.items())
    )
    note = (
        f"Median over {counted} of each round's ratio to the ResNet's step, one step of each network a "
        f"round, taken in turns; in brackets its 95% bootstrap interval; batch {overhead['batch']}; "
        f"goal: {SE_OVERHEAD_GOAL:.2f}x or less; {measured_where(overhead)}."
    )
    return NotedTable(pd.DataFrame.from_dict(rows, orient="index").rename_axis("network"), note)


def _ratio_cell(row: Mapping) -> str:
    """``"1.02x [1.01, 1.03]"``: a ratio to the ResNet's step and its interval (no-break spaces: one line)."""
    low, high = row["interval_95"]
    return f"{row['ratio_to_resnet']:.2f}x\u00a0[{low:.2f},\u00a0{high:.2f}]"


def _network_label(name: str) -> str:
    """``"full network (20 layers, width 4), float32"`` -> ``"full: ResNet-20 x4, float32"``."""
    match = re.fullmatch(r"(\w+) network \((\d+) layers, width (\d+)\), (\w+)", name)
    if match is None:
        return name
    budget, depth, width, dtype = match.groups()
    return f"{budget}: ResNet-{depth}{'' if width == '1' else ' x' + width}, {dtype}"


def other_levers(levers: Mapping, compiled: Mapping) -> NotedTable:
    """The levers measured apart from the ladder: the allocator, evaluation, and ``torch.compile``.

    ``levers`` is the levers benchmark's record (its allocator rows come from
    child processes run in turns), ``compiled`` the compile benchmark's.
    """
    allocator = levers["allocator"]
    rows: dict[str, dict[str, str]] = {}
    for setting, measured in allocator.items():
        rows[f"step, {setting}"] = {
            network: f"{row['ms_per_step']:.1f} ms, {row['faults_per_step']:,.0f} faults"
            for network, row in measured.items()
        }
    rows["evaluating the test set"] = {
        network: f"{seconds:.2f} s" for network, seconds in levers["evaluation_seconds"].items()
    }
    runs = {network.removesuffix("-8"): row for network, row in compiled["networks"].items()}
    rows["torch.compile: compiling"] = {n: f"{row['compile_seconds']:.0f} s" for n, row in runs.items()}
    rows["torch.compile: step speed-up"] = {n: f"{row['speedup']:.2f}x" for n, row in runs.items()}
    compile_where = "" if compiled["device"] == levers["device"] else f"{compiled['device']}, "
    note = (
        f"Steps: batch {levers['batch']}, median of {levers['allocator_rounds']} processes each way, taken "
        f"in turns; compile: {compiled['precision']}, {compile_where}commit {compiled['commit'][:7]}. "
        f"{measured_where(levers)}."
    )
    return NotedTable(pd.DataFrame.from_dict(rows, orient="index").rename_axis("measured"), note)


def read(path: str, repository: str) -> dict:
    """A benchmark's results file from ``repository``, as a dict."""
    return json.loads(repository_file(path, repository).read_text())
