"""The tables chapters show, against hand computations: what the prose quotes is what the table says."""

import math

import pytest

from se_tutorial.book.report import accuracies_by_seed, made_by, paired_summary, provenance, runs_by_sweep

# Chapter 5's stored runs (brief budget, seeds 0-2), as fractions.
PLAIN = {0: 0.9224, 1: 0.9215, 2: 0.9224}
WITH_SE = {0: 0.9111, 1: 0.9148, 2: 0.9182}
LABELS = {"resnet": "ResNet", "se-resnet": "SE-ResNet"}


def rows(extra=()):
    made = [
        {"variant": variant, "seed": seed, "test_accuracy": accuracy, "budget": "brief", "device": "CPU",
         "torch": "2.14", "commit": "61dadcb", "date": "2026-11-26T16:43:11+00:00"}
        for variant, runs in (("resnet", PLAIN), ("se-resnet", WITH_SE))
        for seed, accuracy in runs.items()
    ]  # fmt: skip
    return made + list(extra)


def test_accuracies_by_seed_show_each_pair_and_its_difference():
    table = accuracies_by_seed(rows(), LABELS)
    assert list(table.index) == [0, 1, 2]
    assert list(table["ResNet"]) == ["92.24%", "92.15%", "92.24%"]
    assert list(table["SE-ResNet - ResNet"]) == ["-1.13", "-0.67", "-0.42"]


def test_the_paired_summary_by_hand():
    table = paired_summary(rows(), LABELS)
    plain, se = table["ResNet"], table["SE-ResNet"]
    assert (plain["mean accuracy"], plain["std (points)"], plain["minus ResNet (points)"]) == (
        "92.21%",
        "0.05",
        "-",
    )
    # Differences -1.13, -0.67, -0.42 points: mean -0.74, sd 0.360, t(0.975, 2) = 4.303.
    differences = [-1.13, -0.67, -0.42]
    mean = sum(differences) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / 2)
    half = 4.302653 * sd / math.sqrt(3)
    assert se["minus ResNet (points)"] == f"{mean:+.2f}" == "-0.74"
    assert se["95% interval"] == f"[{mean - half:+.2f}, {mean + half:+.2f}]" == "[-1.63, +0.15]"
    assert se["seeds higher / lower"] == "0 / 3"
    # With 2 degrees of freedom, P(|T| > t) = 1 - t / sqrt(2 + t^2).
    t = abs(mean) / (sd / math.sqrt(3))
    assert se["p (paired t)"] == f"{1 - t / math.sqrt(2 + t * t):.2f}"


def test_only_seeds_both_models_have_are_paired():
    extra = [{"variant": "resnet", "seed": 7, "test_accuracy": 0.5, "budget": "brief", "device": "CPU",
              "torch": "2.14", "commit": "61dadcb", "date": "2026-11-27T10:00:00+00:00"}]  # fmt: skip
    assert list(accuracies_by_seed(rows(extra), LABELS).index) == [0, 1, 2]
    assert paired_summary(rows(extra), LABELS).loc["minus ResNet (points)", "SE-ResNet"] == "-0.74"
    with pytest.raises(ValueError, match="no seed has runs of every model"):
        accuracies_by_seed(extra, LABELS)


def test_provenance_is_one_line_naming_everything_a_number_depends_on():
    line = provenance(rows())
    assert line == "6 runs, brief budget, seeds 0-2, CPU, torch 2.14, commit 61dadcb, 2026-11-26"
    odd = [dict(row, seed=row["seed"] * 2, commit=f"c{row['seed']}") for row in rows()]
    assert "seeds 0, 2, 4" in provenance(odd) and "commits c0, c1, c2" in provenance(odd)
    wrapped = provenance(rows(), width=40)
    assert wrapped.replace(",\n", ", ") == line and all(len(part) <= 40 for part in wrapped.splitlines())
    with pytest.raises(ValueError, match="no runs to describe"):
        provenance([])


def test_runs_by_sweep_and_the_command_that_made_them():
    swept = [dict(row, sweep="gate" if row["variant"] == "resnet" else "squeeze") for row in rows()]
    swept[0]["commit"] = "757b03f"
    table = runs_by_sweep(swept)
    assert list(table.index) == ["gate", "squeeze"] and list(table["runs"]) == [3, 3]
    assert table.loc["gate", "seeds"] == "0 1 2" and table.loc["gate", "commit"] == "61dadcb, 757b03f"
    assert made_by("S", swept, "brief", name="ablations").splitlines() == [
        "made by: python -m se_tutorial sweep S \\",
        "    --seeds 0 1 2 --budget brief \\",
        "    --out book/results/ablations_brief.jsonl",
    ]


def test_a_trained_comparison_puts_the_models_side_by_side():
    import torch
    from fixtures import tiny_model

    from se_tutorial import count_parameters
    from se_tutorial.book.report import trained_comparison
    from se_tutorial.training.history import History

    runs = {}
    for name, model, accuracy, seconds in zip(
        ("ResNet", "SE-ResNet"), (tiny_model(None), tiny_model("se")), (0.9205, 0.9150), (60, 75), strict=True
    ):
        rows = [{"epoch": 1, "test_accuracy": accuracy, "seconds": seconds / 2},
                {"epoch": 2, "test_accuracy": accuracy, "seconds": seconds / 2}]  # fmt: skip
        runs[name] = (model, History(rows, {}))
    table = trained_comparison(runs, example=torch.zeros(1, 1, 28, 28))
    assert list(table.columns) == ["ResNet", "SE-ResNet"]
    se = table["SE-ResNet"]
    assert se["test accuracy"] == "91.50%" and se["minus ResNet (points)"] == "-0.55"
    assert se["training time (s)"] == "75.0" and se["time vs ResNet"] == "1.25x"
    assert se["parameters"] == f"{count_parameters(runs['SE-ResNet'][0]):,}"
    assert table["ResNet"]["minus ResNet (points)"] == "-"


def test_the_excitation_table_formats_each_blocks_statistics():
    import torch

    from se_tutorial.book.report import excitation_table
    from se_tutorial.studies import BlockExcitations, class_specificity

    block = BlockExcitations(
        class_means=torch.tensor([[0.2, 0.6], [0.4, 0.8]], dtype=torch.float64),
        class_variances=torch.full((2, 2), 0.01, dtype=torch.float64),
        counts=torch.tensor([10.0, 30.0], dtype=torch.float64),
        near_one=0.125,
    )
    table = excitation_table({"layer1.0.attention": block})
    shown = table.loc["layer1.0.attention"]
    assert shown["specificity"] == f"{class_specificity(block):.2f}"
    assert shown["class means"] == "0.20 to 0.80" and shown["above 0.9"] == "12.5%"


def factorial_rows():
    accuracies = {
        "resnet": (0.920, 0.924, 0.922),
        "se-resnet": (0.918, 0.925, 0.919),
        "resnet, zero-init": (0.919, 0.921, 0.920),
        "se-resnet, zero-init": (0.915, 0.919, 0.917),
    }
    return [
        {"sweep": "se-and-init", "variant": v, "seed": s, "test_accuracy": a, "budget": "brief"}
        for v, values in accuracies.items()
        for s, a in enumerate(values)
    ]


def test_the_contrast_table_by_hand_with_holm_over_its_rows():
    from se_tutorial.book.report import contrast_table

    table = contrast_table(factorial_rows(), "brief")
    # no longer-training runs: that contrast is left out
    assert len(table) == 5 and "SE - plain, 3x the epochs" not in table.index
    se = table.loc["SE - plain, standard init"]
    # -0.2, +0.1, -0.3 points: mean -0.13, sd 0.208, half-width 4.303 * 0.208 / sqrt(3) = 0.52
    assert (se["points"], se["95% interval"], se["seeds + / -"]) == ("-0.13", "[-0.65, +0.38]", "1 / 2")
    p_values = sorted(float(p) for p in table["p"])
    adjusted = sorted(float(p) for p in table["p (Holm)"])
    assert adjusted[0] == pytest.approx(min(1, 5 * p_values[0]), abs=2e-3)  # the smallest, times five
    assert all(a >= p - 1e-9 for a, p in zip(adjusted, p_values, strict=True))
    with pytest.raises(ValueError, match="no contrast has two complete seeds"):
        contrast_table(factorial_rows(), "smoke")


def test_noise_sources_put_the_test_set_floor_beside_the_seeds_spread():
    from se_tutorial.book.report import noise_sources

    table = noise_sources(
        factorial_rows(), {"resnet": "ResNet", "se-resnet": "SE-ResNet"}, test_images=10_000
    )
    # 92.2% of 10,000 images: the Clopper-Pearson interval is about +-0.53 points
    assert table.loc["ResNet", "test-set floor (±)"] == "0.53"
    assert table.loc["ResNet", "seed std"] == "0.20"  # 92.0, 92.4, 92.2
    assert table.loc["ResNet", "std of minus ResNet"] == "-"
    assert table.loc["SE-ResNet", "std of minus ResNet"] == "0.21"  # -0.2, +0.1, -0.3
    assert table.loc["SE-ResNet", "interval (±)"] == "0.52"


def test_provenance_breaks_a_device_name_wider_than_the_page():
    intel = "Intel(R) Xeon(R) Processor (family 6 model 167, x86_64, 2 threads, AVX2, AVX-512, AVX512-BF16, AMX-BF16)"
    made = [{**r, "device": intel} for r in rows()]
    text = provenance(made, width=76)
    assert all(len(line) <= 76 for line in text.splitlines())
    assert " ".join(text.split()).count(intel) == 1  # every word kept, in order
