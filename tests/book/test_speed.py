"""Chapter 4's speed tables, from hand-made benchmark records."""

from se_tutorial.book import speed

WHERE = {
    "device": "AMD EPYC (family 26 model 2)",
    "commit": "1a2b3c4d5e6f",
    "date": "2026-12-02T15:00:00+00:00",
}


def test_the_lever_table_gives_each_rung_and_the_se_networks_speedup_over_the_rung_before():
    step = {"seconds_per_step": 0.1, "gflop_per_step": 1.0, "gflop_per_second": 10.0}
    levers = {
        **WHERE, "batch": 128, "steps_per_epoch": 468, "rounds": 7,
        "peak_gflop_per_second": {"float32": 181.4, "bfloat16": 773.7},
        "configurations": {
            "ResNet: stride-1 stem": {**step, "seconds_per_epoch": 100.0, "share_of_peak": 0.2},
            "ResNet: + channels-last": {**step, "seconds_per_epoch": 50.0, "share_of_peak": 0.4},
            "SE-ResNet: stride-1 stem": {**step, "seconds_per_epoch": 120.0, "share_of_peak": 0.18},
            "SE-ResNet: + channels-last": {
                **step, "seconds_per_epoch": 40.0, "share_of_peak": 0.5, "speedup_over_rung_before": 2.9996},
            "SE-ResNet: + SE tail as one kernel": {
                **step, "seconds_per_epoch": 32.0, "share_of_peak": 0.6, "speedup_over_rung_before": 1.25},
        },
    }  # fmt: skip
    shown = speed.lever_table(levers)
    table = shown.table
    assert list(table.index) == ["stride-1 stem", "+ channels-last", "+ SE tail as one kernel"]
    assert list(table["ResNet s/epoch"]) == ["100.0", "50.0", "-"]  # the plain network has no SE tail
    assert list(table["x faster"]) == ["", "3.00", "1.25"]
    assert list(table["of peak"]) == ["18%", "50%", "60%"]
    assert "batch 128, 468 steps an epoch" in shown.note and "commit 1a2b3c4, 2026-12-02" in shown.note
    assert "(GFLOP/s: float32 181, bfloat16 774)" in shown.note


def test_the_recipe_table_summarises_each_network_and_names_the_recipe():
    run = {"runs": [{}, {}], "mean_accuracy": 0.92138, "lowest_accuracy": 0.9197}
    recipe = {
        **WHERE, "budget": "brief", "epochs": 5, "batch_size": 128, "precision": "bfloat16",
        "goal": {"mean_accuracy": 0.91, "lowest_accuracy": 0.905, "wall_seconds": 60.0},
        "networks": {"SE-ResNet-8": {**run, "mean_wall_seconds": 54.1, "longest_wall_seconds": 59.04}},
    }  # fmt: skip
    xeon = {**recipe, "device": "Intel(R) Xeon(R) Processor (family 6 model 167, 2 threads, AVX2, AVX-512)",
            "networks": {"ResNet-8": {**run, "mean_wall_seconds": 41.0, "longest_wall_seconds": 42.0}}}  # fmt: skip
    shown = speed.recipe_table(recipe, xeon)
    assert shown.table.loc[("AMD EPYC", "SE-ResNet-8")].to_dict() == {
        "seeds": 2, "mean accuracy": "92.14%", "lowest": "91.97%", "mean s": "54.1", "longest s": "59.0",
    }  # fmt: skip
    assert shown.table.loc[("Intel Xeon, AVX-512", "ResNet-8"), "longest s"] == "42.0"
    assert shown.note.startswith("brief budget: 5 epochs, batch 128, bfloat16;")
    assert "goal: mean 91.0% or more, every seed 90.5% or more, every run 60 s or less." in shown.note
    assert (
        "AMD EPYC: AMD EPYC (family 26 model 2), commit 1a2b3c4, 2026-12-02; Intel Xeon, AVX-512: "
        in shown.note
    )


def test_the_other_levers_table_puts_allocator_evaluation_and_compile_side_by_side():
    networks = {"ResNet": {"ms_per_step": 18.04, "faults_per_step": 2400.4}, "SE-ResNet": {
        "ms_per_step": 20.0, "faults_per_step": 0.2}}  # fmt: skip
    levers = {
        **WHERE, "batch": 128, "allocator_rounds": 3, "evaluation_seconds": {"ResNet": 0.171, "SE-ResNet": 0.19},
        "allocator": {"glibc as it starts": networks, "freed memory kept": networks},
    }  # fmt: skip
    compiled = {**WHERE, "precision": "bfloat16", "networks": {
        "ResNet-8": {"compile_seconds": 19.04, "speedup": 0.935},
        "SE-ResNet-8": {"compile_seconds": 24.4, "speedup": 0.966}}}  # fmt: skip
    shown = speed.other_levers(levers, compiled)
    assert shown.table.loc["step, glibc as it starts", "ResNet"] == "18.0 ms, 2,400 faults"
    assert shown.table.loc["evaluating the test set", "ResNet"] == "0.17 s"
    assert shown.table.loc["torch.compile: compiling", "SE-ResNet"] == "24 s"
    assert shown.table.loc["torch.compile: step speed-up", "ResNet"] == "0.94x"
    assert (
        "median of 3 processes each way" in shown.note and "compile: bfloat16, commit 1a2b3c4" in shown.note
    )
    elsewhere = speed.other_levers(levers, {**compiled, "device": "Intel Xeon (AVX-512)"})
    assert "compile: bfloat16, Intel Xeon (AVX-512), commit 1a2b3c4" in elsewhere.note  # its own machine


def test_the_se_overhead_table_gives_each_networks_ratio_to_the_plain_step():
    tails = ["SE-ResNet, readable tail", "SE-ResNet, tail as one function of PyTorch operations"]
    float32 = {
        "ResNet": 1.0,
        tails[0]: 1.111,
        tails[1]: 1.127,
        "SE-ResNet, tail as one compiled kernel": 1.0449,
    }
    bfloat16 = {"ResNet": 1.0, tails[0]: 1.183, tails[1]: 1.0694}  # no compiled kernel for bfloat16 maps
    overhead = {
        **WHERE, "rounds": {"brief": 61, "full": 15}, "batch": 128,
        "configurations": {
            f"brief network (8 layers, width 1), {dtype}": {
                name: {"ratio_to_resnet": ratio, "interval_95": [ratio - 0.011, ratio + 0.02], "ms_per_step": 1.0}
                for name, ratio in ratios.items()}
            for dtype, ratios in (("float32", float32), ("bfloat16", bfloat16))},
    }  # fmt: skip
    shown = speed.se_overhead(overhead)
    assert shown.table.loc["brief: ResNet-8, float32"].to_dict() == {
        "readable": "1.11x\u00a0[1.10,\u00a01.13]", "one function": "1.13x\u00a0[1.12,\u00a01.15]",
        "compiled kernel": "1.04x\u00a0[1.03,\u00a01.06]",
    }  # fmt: skip
    assert shown.table.loc["brief: ResNet-8, bfloat16"].to_dict() == {
        "readable": "1.18x\u00a0[1.17,\u00a01.20]", "one function": "1.07x\u00a0[1.06,\u00a01.09]", "compiled kernel": "-",
    }  # fmt: skip
    assert "Median over 61 rounds (brief) and 15 rounds (full) of each round's ratio" in shown.note
    assert "in brackets its 95% bootstrap interval; batch 128; goal: 1.05x or less" in shown.note
    assert "Median over 15 rounds of" in speed.se_overhead({**overhead, "rounds": 15}).note
    assert speed._network_label("full network (20 layers, width 4), float32") == "full: ResNet-20 x4, float32"
