"""The CPU benchmarks' smoke modes: each runs its code paths in seconds and writes results with provenance.

(Their numbers are measurements, not tests: nothing here asserts a time.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import write_fashion_mnist

from se_tutorial.training import BUDGETS
from se_tutorial.utils.provenance import cpu_bfloat16

ROOT = Path(__file__).resolve().parents[1]


def smoke_run(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SE_TUTORIAL_DATA": str(write_fashion_mnist(tmp_path / "data", train=512, test=128)),
        "SE_TUTORIAL_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / script),
        "--smoke",
        "--out",
        str(tmp_path / "out.json"),
    ]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def smoke_record(script: str, tmp_path: Path) -> dict:
    """What ``script --smoke`` wrote, after checking that it succeeded and recorded its provenance."""
    result = smoke_run(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return record(tmp_path)


def record(tmp_path: Path) -> dict:
    written = json.loads((tmp_path / "out.json").read_text())
    for key in ("commit", "torch", "device", "date", "threads"):
        assert written[key], key
    return written


@pytest.mark.slow
def test_the_levers_benchmark_climbs_the_ladder_against_the_peak(tmp_path):
    written = smoke_record("cpu_levers.py", tmp_path)
    dtypes = ["float32", "bfloat16"] if cpu_bfloat16() else ["float32"]
    assert sorted(written["peak_gflop_per_second"]) == sorted(dtypes)
    rungs = ["stride-1 stem, contiguous, float32", "+ stride-2 stem", "+ channels-last"]
    last = ["+ bfloat16 autocast"] if cpu_bfloat16() else []  # the lever the recipe leaves off
    expected = [f"ResNet: {rung}" for rung in [*rungs, *last]]
    expected += [f"SE-ResNet: {rung}" for rung in [*rungs, "+ SE tail as one kernel", *last]]
    assert list(written["configurations"]) == expected
    for row in written["configurations"].values():
        assert row["gflop_per_step"] > 0 and 0 < row["share_of_peak"] and row["seconds_per_epoch"] > 0
    steps = written["configurations"]
    assert (
        steps["ResNet: + stride-2 stem"]["gflop_per_step"]
        < steps["ResNet: + channels-last"]["gflop_per_step"] * 1.01
    )
    assert steps["ResNet: + stride-2 stem"]["gflop_per_step"] < 0.5 * steps[expected[0]]["gflop_per_step"]
    assert set(written["evaluation_seconds"]) == {"ResNet", "SE-ResNet"}
    first_rungs = {f"{network}: {rungs[0]}" for network in ("ResNet", "SE-ResNet")}
    for name, row in steps.items():  # each rung's speed-up over the one before, the first rungs none
        assert (row["speedup_over_rung_before"] is None) == (name in first_rungs)
    allocator = written["allocator"]
    assert set(allocator) == {"glibc as it starts", "freed memory kept"}
    for measured in allocator.values():
        assert set(measured) == {"ResNet", "SE-ResNet"}
        assert all(row["ms_per_step"] > 0 and row["faults_per_step"] >= 0 for row in measured.values())


@pytest.mark.slow
def test_the_se_overhead_benchmark_pairs_each_round_with_the_plain_network(tmp_path):
    written = smoke_record("cpu_se_overhead.py", tmp_path)
    from se_tutorial.utils.provenance import cpu_bfloat16

    dtypes = ["float32", *(["bfloat16"] if cpu_bfloat16() else [])]  # float32, and bfloat16 where it runs
    assert len(written["configurations"]) == 2 * len(dtypes)  # brief and full networks x dtypes
    assert {name.rsplit(", ", 1)[1] for name in written["configurations"]} == set(dtypes)
    kernel = ["SE-ResNet, tail as one compiled kernel"]
    for name, variants in written["configurations"].items():
        tails = ["SE-ResNet, readable tail", "SE-ResNet, tail as one function of PyTorch operations"]
        assert list(variants) == ["ResNet", *tails, *(kernel if name.endswith("float32") else [])]
        assert variants["ResNet"]["ratio_to_resnet"] == 1.0
        assert variants["ResNet"]["interval_95"] == [1.0, 1.0]
        for row in variants.values():
            low, high = row["interval_95"]
            assert row["ms_per_step"] > 0 and low <= row["ratio_to_resnet"] <= high


@pytest.mark.slow
def test_the_recipe_benchmark_trains_both_networks_and_judges_them_against_the_goal(tmp_path):
    written = smoke_record("cpu_recipe.py", tmp_path)
    assert written["budget"] == "smoke" and set(written["networks"]) == {"ResNet-8", "SE-ResNet-8"}
    for network in written["networks"].values():
        assert network["seeds"] == [0] and len(network["runs"]) == 1
        assert network["meets_goal"] is False  # one smoke epoch on 512 images is far from 91%


@pytest.mark.slow
def test_the_precision_benchmark_pairs_float32_and_bfloat16_by_seed(tmp_path):
    result = smoke_run("cpu_precision.py", tmp_path)
    if not cpu_bfloat16():
        assert result.returncode != 0 and "no bfloat16 instructions" in result.stderr
        return
    assert result.returncode == 0, result.stderr[-3000:]
    written = record(tmp_path)
    assert {(r["model"], r["seed"], r["precision"]) for r in written["runs"]} == {
        (m, s, p) for m in ("ResNet", "SE-ResNet") for s in (0, 1) for p in ("float32", "bfloat16")
    }
    assert set(written["summary"]) == {"ResNet", "SE-ResNet"}


@pytest.mark.slow
def test_the_se_resnet50_benchmark_compares_with_timm_and_torchvision(tmp_path):
    rows = smoke_record("se_resnet50_cpu.py", tmp_path)["rows"]
    assert set(rows) == {"batch 2, train", "batch 2, inference"}
    for row in rows.values():
        networks = {"se_tutorial se_resnet50", "se_tutorial se_resnet50, fused", "timm seresnet50"}
        assert networks | {"torchvision resnet50"} <= set(row)
        assert row["ours_vs_timm"] > 0 and row["fused_vs_timm"] > 0 and row["se_cost_vs_resnet50"] > 0


@pytest.mark.slow
def test_the_compile_benchmark_says_when_compiling_pays_off(tmp_path):
    networks = smoke_record("cpu_compile.py", tmp_path)["networks"]
    assert set(networks) == {"ResNet-8", "SE-ResNet-8"}
    for row in networks.values():
        assert row["compile_seconds"] > 0 and row["steps_in_a_brief_run"] == BUDGETS["brief"].epochs * 468
