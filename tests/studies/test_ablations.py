"""The ablation studies: which runs they read, how they pair them, and what they conclude."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures import write_fashion_mnist

from se_tutorial.studies import STUDIES, SWEEPS, Study, Sweep, compare, with_holm
from se_tutorial.studies.ablations import accuracies, own_variants, why_not_buildable
from se_tutorial.studies.sweeps import PLAIN, STANDARD_SE
from se_tutorial.training import BUDGETS

ROOT = Path(__file__).resolve().parents[2]


def row(sweep, variant, seed, accuracy, budget="brief"):
    return {"sweep": sweep, "variant": variant, "seed": seed, "test_accuracy": accuracy, "budget": budget}


@pytest.mark.parametrize("study", STUDIES.values(), ids=lambda s: s.sweep)
def test_each_study_names_a_sweep_its_baseline_and_only_variants_of_it(study):
    assert study.baseline in SWEEPS[study.sweep].variants
    assert set(study.paper_error) <= set(SWEEPS[study.sweep].variants)


BORROWED = sorted((sweep, variant) for sweep in SWEEPS for variant in SWEEPS[sweep].borrowed)


@pytest.mark.parametrize(("sweep", "variant"), BORROWED)
def test_a_borrowed_variant_builds_exactly_the_network_whose_runs_it_reads(sweep, variant):
    def build(sweep, variant):
        spec = BUDGETS["brief"].model(**SWEEPS[sweep].fields(variant), seed=3)
        return spec.build(in_channels=1, num_classes=10)

    alias, source = build(sweep, variant), build(*SWEEPS[sweep].borrowed[variant])
    assert repr(alias) == repr(source)
    alias_state, source_state = alias.state_dict(), source.state_dict()
    assert alias_state.keys() == source_state.keys()
    assert all(torch.equal(alias_state[k], source_state[k]) for k in alias_state)


def test_borrowed_variants_come_from_the_factorial_and_are_never_trained_twice():
    assert {SWEEPS[s].borrowed[v] for s, v in BORROWED} <= {
        (("se-and-init", v)) for v in SWEEPS["se-and-init"].variants
    }
    assert ("stages", "resnet") in BORROWED and SWEEPS["stages"].borrowed["resnet"] == PLAIN
    for sweep in STUDIES:
        assert set(SWEEPS[sweep].variants) - set(own_variants(sweep)) == set(SWEEPS[sweep].borrowed)


def test_accuracies_prefer_a_variants_own_runs_and_fall_back_to_the_borrowed_ones():
    rows = [
        row(*STANDARD_SE, 0, 0.91),
        row(*STANDARD_SE, 1, 0.92),
        row(*STANDARD_SE, 0, 0.50, budget="smoke"),
        row(*PLAIN, 0, 0.93),
        row("gate", "tanh", 0, 0.77),
    ]
    assert accuracies(rows, "gate", "sigmoid", "brief") == {0: 0.91, 1: 0.92}
    assert accuracies(rows, "stages", "all stages", "brief") == {0: 0.91, 1: 0.92}
    assert accuracies(rows, "stages", "resnet", "brief") == {0: 0.93}
    assert accuracies(rows, "gate", "tanh", "brief") == {0: 0.77}
    assert accuracies(rows, "gate", "relu", "brief") == {}
    own = [*rows, row("gate", "sigmoid", 0, 0.93)]
    assert accuracies(own, "gate", "sigmoid", "brief") == {0: 0.93}
    # Only borrowed variants fall back; a real variant never does.
    assert accuracies(rows, "placement", "pre", "brief") == {}


STUDY = Study("toy", "toy", "Table 0", {"a": 22.0, "b": 23.0, "c": 21.5})


@pytest.fixture(autouse=True)
def toy_sweep(monkeypatch):
    """A sweep called "toy" whose baseline is "a", for the toy studies below."""
    variants = {name: {} for name in "abcde"}
    monkeypatch.setitem(SWEEPS, "toy", Sweep("a", {}, variants))


def test_compare_pairs_by_seed_and_classifies_against_noise_and_the_paper():
    rows = [row("toy", "a", s, acc) for s, acc in enumerate([0.90, 0.91, 0.92])]
    # b: 1.0, 1.1, 0.9 points lower (the paper has it worse); c: +/- mixed; d: no paper number.
    rows += [row("toy", "b", s, acc) for s, acc in enumerate([0.890, 0.899, 0.911])]
    rows += [row("toy", "c", s, acc) for s, acc in enumerate([0.91, 0.90, 0.925])]
    rows += [row("toy", "d", s, acc) for s, acc in enumerate([0.92, 0.93, 0.94])]
    results = {r.variant: r for r in compare(rows, STUDY, ["a", "b", "c", "d", "e"], "brief")}
    assert list(results) == ["a", "b", "c", "d"]  # e has no runs
    a, b, c, d = results.values()
    assert a.difference is None and a.ours == "baseline" and a.agreement == "-"
    assert a.summary.mean == pytest.approx(0.91) and a.summary.n == 3
    # Hand computation for b: differences -0.010, -0.011, -0.009; mean -0.010, sd 0.001,
    # half-width t(0.975, 2) * 0.001 / sqrt(3) = 4.303 * 0.000577 = 0.00248.
    assert b.difference.mean == pytest.approx(-0.010)
    assert b.difference.high == pytest.approx(-0.010 + 0.002484, abs=1e-5)
    assert b.paper_difference == pytest.approx(-1.0)
    assert (b.ours, b.agreement) == ("worse", "same direction")
    # c's interval is about 5 points wide: the paper's 0.5 points cannot be told from noise here.
    assert (c.ours, c.agreement) == ("within noise", "paper's gap < interval")
    assert c.paper_difference == pytest.approx(0.5)
    assert d.ours == "better" and d.paper_difference is None and d.agreement == "-"
    # The same difference against a paper that found the opposite.
    flipped = Study("toy", "toy", "Table 0", {"a": 22.0, "b": 21.0})
    assert compare(rows, flipped, ["b"], "brief")[0].agreement == "opposite direction"
    # A paper gap of 20 points, wider than c's interval, that c's interval still includes: not seen.
    large = Study("toy", "toy", "Table 0", {"a": 22.0, "c": 2.0})
    assert compare(rows, large, ["c"], "brief")[0].agreement == "not seen here"
    # An interval that excludes zero but a difference that does not survive Holm: no direction.
    unsure = dataclasses.replace(compare(rows, flipped, ["b"], "brief")[0], adjusted_p=0.2)
    assert (unsure.ours, unsure.agreement) == ("not after Holm", "not seen here")


def test_compare_needs_the_baseline_and_two_shared_seeds_for_an_interval():
    with pytest.raises(ValueError, match="no brief runs of the baseline toy:a"):
        compare([row("toy", "b", 0, 0.9)], STUDY, ["b"], "brief")
    rows = [row("toy", "a", 0, 0.9), row("toy", "a", 1, 0.9), row("toy", "b", 1, 0.8)]
    (b,) = compare(rows, STUDY, ["b"], "brief")
    assert b.difference is None and b.summary.n == 1
    assert (b.ours, b.agreement) == ("too few shared seeds", "-")  # never mistaken for the baseline
    disjoint = [
        row("toy", "a", 0, 0.9),
        row("toy", "a", 1, 0.9),
        row("toy", "c", 5, 0.8),
        row("toy", "c", 6, 0.8),
    ]
    (c,) = compare(disjoint, STUDY, ["c"], "brief")
    assert c.ours == "too few shared seeds" and not c.is_baseline


def test_why_not_buildable_names_an_unknown_sweep_or_budget():
    with pytest.raises(ValueError, match="unknown sweep 'nope'"):
        why_not_buildable("nope", "r=2", "brief")
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        why_not_buildable("reduction-ratio", "r=2", "huge")
    with pytest.raises(ValueError, match="unknown variant 'r=3'"):
        why_not_buildable("reduction-ratio", "r=3", "brief")


def test_holm_over_the_family_can_take_a_verdict_back():
    rows = [row("toy", "a", s, acc) for s, acc in enumerate([0.90, 0.91, 0.92])]
    rows += [row("toy", "b", s, acc) for s, acc in enumerate([0.890, 0.896, 0.914])]  # p about 0.049
    rows += [row("toy", "d", s, acc) for s, acc in enumerate([0.910, 0.923, 0.927])]  # p about 0.029
    results = compare(rows, STUDY, ["a", "b", "d"], "brief")
    _, b, d = results
    assert (b.ours, d.ours) == ("worse", "better") and b.adjusted_p is None  # alone, both stand out
    _, b, d = with_holm({"toy": results})["toy"]
    # Holm: the smaller p (d's) times 2, the larger times 1, never below the one before.
    assert d.adjusted_p == pytest.approx(2 * d.difference.p_value) and d.adjusted_p > 0.05
    assert b.adjusted_p == pytest.approx(max(b.difference.p_value, d.adjusted_p))
    assert b.ours == d.ours == "not after Holm"


def cost_benchmark(tmp_path, *options: str) -> dict:
    """What ``benchmarks/ablation_cost.py --smoke [options]`` wrote, on a tiny Fashion-MNIST."""
    out = tmp_path / "ablation_cost.json"
    env = {
        **os.environ,
        "SE_TUTORIAL_DATA": str(write_fashion_mnist(tmp_path / "data", train=512, test=128)),
        "SE_TUTORIAL_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    script = str(ROOT / "benchmarks" / "ablation_cost.py")
    command = [sys.executable, script, "--smoke", "--out", str(out), *options]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads(out.read_text())
    for key in ("commit", "torch", "device", "date"):
        assert record[key], key
    return record


@pytest.mark.slow
def test_cost_benchmark_smoke_run_measures_every_attention_module(tmp_path):
    record = cost_benchmark(tmp_path, "--sweeps", "attention")
    variants = record["variants"]
    assert record["sweeps"] == ["attention"] and not record["not_built"]
    expected = {f"attention:{v}" for v in own_variants("attention")}
    assert set(variants) == expected | {":".join(PLAIN), ":".join(STANDARD_SE)}
    assert variants[":".join(PLAIN)]["time_vs_plain"] == 1.0
    assert variants["attention:simam"]["parameters"] == variants[":".join(PLAIN)]["parameters"]
    assert variants["attention:cbam"]["flops"] > variants["attention:se"]["flops"]


@pytest.mark.slow
def test_cost_benchmark_smoke_run_measures_every_variant(tmp_path):
    """benchmarks/ablation_cost.py --smoke: one step of every variant, on a tiny Fashion-MNIST."""
    record = cost_benchmark(tmp_path)
    variants = record["variants"]
    expected = {f"{s}:{v}" for s in STUDIES for v in own_variants(s)}
    assert set(variants) | set(record["not_built"]) == expected | {":".join(PLAIN), ":".join(STANDARD_SE)}
    assert set(record["not_built"]) == {"reduction-ratio:r=32"}
    assert variants[":".join(STANDARD_SE)]["time_vs_standard_se"] == 1.0
    r2 = (
        BUDGETS["smoke"].model(**SWEEPS["reduction-ratio"].fields("r=2")).build(in_channels=1, num_classes=10)
    )
    assert variants["reduction-ratio:r=2"]["parameters"] == sum(p.numel() for p in r2.parameters())
    assert variants["reduction-ratio:r=2"]["flops"] > variants["reduction-ratio:r=16"]["flops"]


def test_gates_with_g0_zero_stop_every_gradient_into_zero_init_branches():
    from se_tutorial.studies.ablations import branch_gradients

    table = branch_gradients("smoke", ["sigmoid", "tanh", "relu"])
    starts_at_zero, starts_at_one = table["γ starts at 0"], table["γ starts at 1"]
    assert float(starts_at_zero["tanh"]) == float(starts_at_zero["relu"]) == 0.0
    assert float(starts_at_zero["sigmoid"]) > 0  # g(0) = 0.5 lets gradient through
    assert all(float(value) > 0 for value in starts_at_one)
    # With biases, g sees something other than 0 and the tanh gate lets gradient through.
    assert float(branch_gradients("smoke", ["tanh"], bias=True)["γ starts at 0"]["tanh"]) > 0
