"""Every registered attention module: any shape and memory format, fx, export, compile, and a ResNet that trains."""

import pytest
import torch
from torch import nn

from se_tutorial import ATTENTION_LAYERS, PLACEMENTS, ModelSpec, attention_layer, cifar_resnet

#: Every registered module with its defaults, and the variants that take another code path.
VARIANTS = {
    **{name: (name, {}) for name in ATTENTION_LAYERS},
    "ge extent 2": ("ge", {"extent": 2}),
    "ge parametric": ("ge", {"extent": 4, "parametric": True}),
    "gc scale": ("gc", {"fusion": "scale"}),
    "cbam spatial bn": ("cbam", {"spatial_batch_norm": True}),
    "fca low4 on 14x14": ("fca", {"frequencies": "low4", "dct_size": 14}),
}
SHAPES = [(2, 16, 1, 1), (2, 16, 7, 5), (3, 16, 8, 8), (2, 16, 3, 9)]


def build(variant: str, channels: int = 16) -> nn.Module:
    name, options = VARIANTS[variant]
    torch.manual_seed(0)
    return attention_layer(name, **options)(channels)


def test_every_registered_module_is_listed_here():
    assert set(ATTENTION_LAYERS) == {"se", "ese", "eca", "cbam", "gc", "ge", "srm", "simam", "fca", "coord"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_output_shape_equals_input_shape(variant):
    module = build(variant)
    for shape in SHAPES:
        x = torch.randn(shape)
        out = module(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert torch.isfinite(out).all()
    assert module.channels == 16


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_channels_last_input_gives_the_same_output(variant):
    module = build(variant).eval()
    x = torch.randn(2, 16, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(module(x.to(memory_format=torch.channels_last)), module(x))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fx_symbolic_trace_matches_eager(variant):
    module = build(variant).eval()
    traced = torch.fx.symbolic_trace(module)
    with torch.no_grad():
        for shape in [(2, 16, 7, 5), (1, 16, 4, 4)]:  # the trace holds no fixed shape
            x = torch.randn(shape)
            torch.testing.assert_close(traced(x), module(x))


@pytest.mark.parametrize("name", sorted(ATTENTION_LAYERS))
def test_fx_traces_a_resnet_with_the_module(name):
    model = cifar_resnet(8, in_channels=1, attention=name, seed=0).eval()
    traced = torch.fx.symbolic_trace(model)
    modules = {node.target for node in traced.graph.nodes if node.op == "call_module"}
    assert any(".attention" in target for target in modules) or name in ("simam", "ge")  # no submodules
    with torch.no_grad():
        for shape in [(2, 1, 28, 28), (1, 1, 20, 12)]:
            x = torch.randn(shape)
            torch.testing.assert_close(traced(x), model(x))


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_torch_export_matches_eager(variant):
    module = build(variant).eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(module, (torch.randn(2, 16, 7, 5),), dynamic_shapes=({0: batch},))
    x = torch.randn(5, 16, 7, 5)
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), module(x))


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_torch_compile_matches_eager(variant):
    module = build(variant)
    compiled = torch.compile(module, backend="aot_eager")  # the compiler front end, without C++ builds
    x = torch.randn(3, 16, 6, 6)
    torch.testing.assert_close(compiled(x), module(x))


def one_sgd_step(model: nn.Module) -> None:
    """Train ``model`` one step on random 12x12 images; every parameter must get a gradient."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = torch.randn(4, 1, 12, 12), torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    missing = [key for key, value in model.named_parameters() if value.grad is None]
    assert not missing, f"not on the loss's graph: {missing}"
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(value).all() for value in model.parameters())


@pytest.mark.parametrize("stages", [None, (2,)], ids=["every stage", "stage 2"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("name", sorted(ATTENTION_LAYERS))
def test_a_resnet_with_the_module_trains_one_step(name, placement, stages):
    model = cifar_resnet(
        8, in_channels=1, attention=name, placement=placement, attention_stages=stages, seed=0
    )
    cls = ATTENTION_LAYERS[name]
    for stage in (1, 2, 3):
        attention = getattr(model, f"layer{stage}")[0].attention
        expected = cls if stages is None or stage in stages else nn.Identity
        assert type(attention) is expected, (stage, type(attention))
    one_sgd_step(model)


def test_one_step_moves_the_weights_of_every_module_that_has_some():
    for name in sorted(ATTENTION_LAYERS):
        model = cifar_resnet(8, in_channels=1, attention=name, seed=0)
        before = {k: v.detach().clone() for k, v in model.named_parameters() if ".attention." in k}
        one_sgd_step(model)
        after = dict(model.named_parameters())
        moved = [key for key in before if not torch.equal(before[key], after[key])]
        assert bool(moved) == bool(before), name  # SimAM and GE-theta-minus have no weights


@pytest.mark.parametrize("name", sorted(ATTENTION_LAYERS))
def test_model_spec_names_the_module_in_its_results_row(name):
    spec = ModelSpec(depth=8, attention=name, seed=0)
    assert spec.to_row()["attention"] == name
    assert ModelSpec.from_row(spec.to_row()) == spec
    assert spec.build(in_channels=1)(torch.randn(2, 1, 12, 12)).shape == (2, 10)


def test_attention_options_reach_the_module():
    model = cifar_resnet(8, attention="eca", attention_options={"kernel_size": 5})
    assert model.layer1[0].attention.kernel_size == 5
    with pytest.raises(TypeError, match="attention 'simam' does not accept these options"):
        ModelSpec(depth=8, attention="simam", attention_options={"reduction_ratio": 4})
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        cifar_resnet(8, attention="eca", attention_options={"kernel_size": 2})


@pytest.mark.parametrize("name", sorted(ATTENTION_LAYERS))
def test_a_channels_last_resnet_runs_under_bfloat16_autocast_as_fit_trains_it(name):
    model = cifar_resnet(8, in_channels=1, attention=name, seed=0).to(memory_format=torch.channels_last)
    images = torch.randn(4, 1, 12, 12).to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(images)
    loss = nn.functional.cross_entropy(logits.float(), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(set(ATTENTION_LAYERS) - {"se"}))
def test_se_only_machinery_leaves_other_modules_alone(name):
    from se_tutorial import capture_excitations
    from se_tutorial.nn.fused import fuse_se, fusion_mode

    model = cifar_resnet(8, in_channels=1, attention=name, seed=0).eval()
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():
        before = model(x)
        fuse_se(model, mode=True)  # fuses SE tails only: these blocks keep their readable join
        assert not any(fusion_mode(block) for block in model.modules() if hasattr(block, "placement"))
        torch.testing.assert_close(model(x), before)
    with pytest.raises(ValueError, match="contains no SEBlock"):
        with capture_excitations(model):
            pass
