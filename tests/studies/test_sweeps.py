"""Every variant of every named sweep builds the model its name says, from shared initial weights."""

import json

import pytest
import torch
from fixtures import write_fashion_mnist

from se_tutorial import SEBlock, cifar_resnet
from se_tutorial.nn import ResidualBlock
from se_tutorial.nn.attention import ATTENTION_LAYERS, GatherExcite
from se_tutorial.studies import SWEEPS, read_rows, run_sweep
from se_tutorial.studies.sweeps import summary_table
from se_tutorial.training import BUDGETS

GOOD_ROW = json.dumps(
    {"sweep": "se-and-init", "variant": "resnet", "seed": 0, "budget": "smoke", "dataset": "fashion-mnist",
     "test_accuracy": 0.9}
)  # fmt: skip
VARIANTS = [(name, variant) for name, sweep in SWEEPS.items() for variant in sweep.variants]


def build(sweep, variant, budget="full", seed=0):
    return (
        BUDGETS[budget].model(**SWEEPS[sweep].fields(variant), seed=seed).build(in_channels=1, num_classes=10)
    )


def se_blocks(model):
    return {name: module for name, module in model.named_modules() if isinstance(module, SEBlock)}


@pytest.mark.parametrize(("sweep", "variant"), VARIANTS, ids=[f"{s}:{v}" for s, v in VARIANTS])
def test_each_variant_builds_the_model_it_names(sweep, variant):
    model = build(sweep, variant)
    blocks = se_blocks(model)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    gammas = [m.last_bn.weight for m in model.modules() if isinstance(m, ResidualBlock)]
    zero_init = all(bool((g == 0).all()) for g in gammas)
    assert zero_init == (variant.endswith("zero-init") or sweep == "gate-zero-init")  # else gamma = 1
    if sweep in ("se-and-init", "longer-training"):
        assert bool(blocks) == variant.startswith("se-resnet")
    elif sweep == "reduction-ratio":
        r = int(variant.removeprefix("r="))
        assert blocks and all(b.hidden_channels * r == b.channels for b in blocks.values())
    elif sweep == "squeeze":
        assert {b.squeeze_name for b in blocks.values()} == {variant}
    elif sweep in ("gate", "gate-zero-init"):
        assert {b.gate_name for b in blocks.values()} == {variant}
    elif sweep == "placement":
        residual = [m for m in model.modules() if isinstance(m, ResidualBlock)]
        assert {m.placement for m in residual} == {variant} and len(blocks) == len(residual)
    elif sweep == "stages":
        stages = {name.split(".")[0] for name in blocks}
        every = {"layer1", "layer2", "layer3"}
        expected = {"resnet": set(), "all stages": every}.get(variant) or {f"layer{variant[-6]}"}
        assert stages == (set() if variant == "resnet" else expected)
    elif sweep == "attention":
        residual = [m for m in model.modules() if isinstance(m, ResidualBlock)]
        kinds = {type(m.attention) for m in residual}
        if variant == "resnet":
            assert kinds == {torch.nn.Identity}
        elif variant == "ge-theta":
            assert kinds == {GatherExcite} and all(m.attention.parametric for m in residual)
        else:
            assert kinds == {ATTENTION_LAYERS[variant]}
    else:  # a new sweep needs its own check here
        pytest.fail(f"no check for sweep {sweep!r}")


# (se-and-init's variants differ in the last BN's gamma by design.)
@pytest.mark.parametrize("sweep", [s for s in SWEEPS if s != "se-and-init"])
def test_the_variants_of_a_sweep_share_every_common_initial_weight(sweep):
    models = [
        build(sweep, variant, budget="brief" if sweep != "reduction-ratio" else "full")
        for variant in SWEEPS[sweep].variants
    ]
    reference = models[0].state_dict()
    for model in models[1:]:
        state = model.state_dict()
        shared = [k for k in state if k in reference and state[k].shape == reference[k].shape]
        assert shared and all(torch.equal(state[k], reference[k]) for k in shared if ".attention." not in k)


def residual_branch_gradient(model) -> float:
    """Largest |gradient| of any residual-branch weight (shortcuts excluded) after one loss."""
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.nn.functional.cross_entropy(model(x), torch.arange(8)).backward()
    return max(
        p.grad.abs().max().item()
        for name, p in model.named_parameters()
        if name.startswith("layer") and ".shortcut." not in name
    )


@pytest.mark.parametrize("gate", ["sigmoid", "tanh", "relu", "hard_sigmoid"])
def test_zero_init_with_a_gate_that_is_zero_at_zero_never_trains_its_branches(gate):
    # gamma = beta = 0 makes the branch 0, so the squeeze is 0, the bias-free FCs
    # give 0, and a gate with g(0) = 0 scales by 0: no gradient reaches the branch.
    stuck = gate in ("tanh", "relu")
    zero_init = BUDGETS["brief"].model(**SWEEPS["gate"].fields(gate), zero_init_residual=True, seed=0)
    assert (residual_branch_gradient(zero_init.build(in_channels=1, num_classes=10)) == 0) == stuck
    if gate in SWEEPS["gate-zero-init"].variants:
        assert (residual_branch_gradient(build("gate-zero-init", gate, budget="brief")) == 0) == stuck
    assert residual_branch_gradient(build("gate", gate, budget="brief")) > 0  # from the standard init


def test_exact_reduction_refuses_a_ratio_the_channels_cannot_take():
    # The brief budget's first stage has 16 channels: exactly C / 32 is not a width.
    with pytest.raises(ValueError, match="16 channels cannot be reduced by exactly r=32"):
        build("reduction-ratio", "r=32", budget="brief")


def test_attention_options_need_an_attention_module_and_stages_must_exist():
    with pytest.raises(ValueError, match=r"attention is None; name one too, e\.g\. attention='se'"):
        BUDGETS["brief"].model(attention_options={"gate": "tanh"})
    with pytest.raises(ValueError, match=r"attention_stages must name stages among"):
        cifar_resnet(8, attention="se", attention_stages=[4])


@pytest.mark.slow
def test_a_sweep_can_run_only_some_variants_and_records_what_it_built(tmp_path, monkeypatch):
    from fixtures import write_fashion_mnist

    from se_tutorial.studies import run_sweep

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "data", train=512, test=128)))
    rows = run_sweep(
        "placement", [0], tmp_path / "rows.jsonl", budget="smoke", progress=False, variants=["pre"]
    )
    assert [(row["variant"], row["placement"], row["seed"]) for row in rows] == [("pre", "pre", 0)]
    assert rows[0]["parameters"] == sum(p.numel() for p in build("placement", "pre", "smoke").parameters())
    with pytest.raises(ValueError, match="unknown placement variant 'sideways'"):
        run_sweep("placement", [0], tmp_path / "rows.jsonl", budget="smoke", variants=["sideways"])


@pytest.mark.slow
def test_sweep_writes_one_row_per_run_and_skips_finished_runs(tmp_path, monkeypatch):

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    out = tmp_path / "sweep.jsonl"
    rows = run_sweep(
        "se-and-init", [0], out, budget="smoke", progress=False, variants=["resnet", "se-resnet"]
    )
    assert [(r["variant"], r["seed"]) for r in rows] == [("resnet", 0), ("se-resnet", 0)]
    assert len(out.read_text().splitlines()) == 2 and all(r["commit"] and r["device"] for r in rows)

    calls = []
    monkeypatch.setattr(
        "se_tutorial.studies.sweeps.run", lambda *a, **kw: calls.append(kw) or pytest.fail("rerun")
    )
    again = run_sweep("se-and-init", [0], out, budget="smoke", variants=["resnet", "se-resnet"])
    assert len(again) == 2 and not calls
    assert "se-resnet" in summary_table(rows)


def test_a_borrowed_variant_is_read_from_its_sweep_not_trained_again(tmp_path, monkeypatch):
    from se_tutorial.utils.errors import ConfigurationError

    trained = []
    monkeypatch.setattr(
        "se_tutorial.studies.sweeps.run",
        lambda fields, **options: trained.append(fields) or {"seed": options["seed"], "budget": "smoke",
                                                            "dataset": "fashion-mnist", "test_accuracy": 0.5},
    )  # fmt: skip
    rows = run_sweep("stages", [0], tmp_path / "rows.jsonl", budget="smoke", progress=False)
    assert [row["variant"] for row in rows] == ["stage 1 only", "stage 2 only", "stage 3 only"]
    with pytest.raises(
        ConfigurationError, match=r"same network as se-and-init variant resnet.*--variants 'resnet'"
    ):
        run_sweep("stages", [0], tmp_path / "rows.jsonl", budget="smoke", variants=["resnet"])


def test_a_longer_training_sweep_trains_its_factor_of_the_budgets_epochs(tmp_path, monkeypatch):
    epochs = []
    monkeypatch.setattr(
        "se_tutorial.studies.sweeps.run",
        lambda fields, **options: epochs.append(options["epochs"]) or {"seed": 0, "budget": "smoke",
                                                                      "dataset": "fashion-mnist", "test_accuracy": 0.5,
                                                                      "epochs": options["epochs"]},
    )  # fmt: skip
    run_sweep("longer-training", [0], tmp_path / "rows.jsonl", budget="brief", progress=False)
    assert epochs == [3 * BUDGETS["brief"].epochs] * 2


def test_sweep_reports_a_damaged_results_file(tmp_path):
    out = tmp_path / "sweep.jsonl"
    out.write_text(GOOD_ROW + "\n{broken\n")
    with pytest.raises(ValueError, match="line 2, is not valid JSON"):
        read_rows(out)


@pytest.mark.slow
def test_a_sweep_skips_the_variants_its_budget_cannot_build_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist", train=384, test=128)))
    rows = run_sweep("reduction-ratio", [0, 1], tmp_path / "rows.jsonl", budget="smoke", progress=False)
    assert sorted((r["seed"], r["variant"]) for r in rows) == [
        (seed, f"r={r}") for seed in (0, 1) for r in sorted((16, 2, 4, 8), key=str)
    ]
    assert "reduction-ratio: skipping r=32 on the smoke budget: 16 channels" in capsys.readouterr().err


def test_a_sweep_asked_for_an_unbuildable_variant_refuses_before_training(tmp_path, monkeypatch):
    from se_tutorial.utils.errors import ConfigurationError

    monkeypatch.setattr("se_tutorial.studies.sweeps.run", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ConfigurationError, match="r=32 cannot be built on the smoke budget"):
        run_sweep("reduction-ratio", [0], tmp_path / "rows.jsonl", budget="smoke", variants=["r=2", "r=32"])


def test_each_seed_runs_once_even_when_named_twice(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "se_tutorial.studies.sweeps.run",
        lambda fields, **options: calls.append(options["seed"]) or {"seed": options["seed"], "budget": "smoke",
                                                                   "dataset": "fashion-mnist", "test_accuracy": 0.5},
    )  # fmt: skip
    rows = run_sweep("se-and-init", [1, 1, 0], tmp_path / "rows.jsonl", budget="smoke", variants=["resnet"])
    assert calls == [1, 0] and [r["seed"] for r in rows] == [1, 0]
