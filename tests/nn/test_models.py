"""ResNet builders: CIFAR-style depths, ResNet-50 parity with torchvision and timm, zero and
shared initialisation, fx tracing, and the parameter counts the book states."""

from functools import partial

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from se_tutorial import (
    PLACEMENTS,
    BasicResNetBlock,
    BottleneckBlock,
    ResNet,
    SEBlock,
    attention_layer,
    capture_excitations,
    cifar_resnet,
    count_parameters,
    from_timm_state_dict,
    from_torchvision_state_dict,
    resnet50,
    se_resnet50,
)
from se_tutorial.nn import ModelSpec, ResidualBlock
from se_tutorial.nn.foreign_weights import timm_parity


@pytest.mark.parametrize(("depth", "blocks"), [(8, 3), (20, 9), (32, 15), (56, 27)])
def test_cifar_resnet_depth_is_6n_plus_2(depth, blocks):
    model = cifar_resnet(depth)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == depth - 1  # stem + two per block; the classifier is the last layer
    assert sum(len(getattr(model, name)) for name in model.stage_names) == blocks


def test_resnet20_has_the_published_parameter_count():
    # He et al. (2016) Table 6: ResNet-20 has 0.27M parameters.
    assert 0.26e6 < count_parameters(cifar_resnet(20)) < 0.28e6


@pytest.mark.parametrize("in_channels", [1, 3, 5])
@pytest.mark.parametrize("num_classes", [2, 10])
def test_any_input_channels_and_classes(in_channels, num_classes):
    model = cifar_resnet(8, in_channels=in_channels, num_classes=num_classes, width=2, attention="se")
    assert model(torch.randn(2, in_channels, 28, 28)).shape == (2, num_classes)
    assert model.layer3[0].out_channels == 128


def test_se_resnet_has_one_se_block_per_residual_block():
    model = cifar_resnet(20, attention="se")
    se_blocks = [m for m in model.modules() if isinstance(m, SEBlock)]
    assert len(se_blocks) == 9
    with capture_excitations(model) as excitations:
        model(torch.randn(2, 3, 32, 32))
    assert sorted(excitations)[0] == "layer1.0.attention"
    assert excitations["layer3.2.attention"].shape == (2, 64)


@pytest.mark.parametrize("depth", [7, 21, 2])
def test_bad_depth_names_the_rule(depth):
    with pytest.raises(ValueError, match="6n"):
        cifar_resnet(depth)


def test_bad_width_names_the_argument():
    with pytest.raises(ValueError, match="width must be a positive integer"):
        cifar_resnet(8, width=0)


def test_bad_attention_type():
    with pytest.raises(TypeError, match="attention must be None"):
        cifar_resnet(8, attention=16)


def test_model_rejects_images_with_the_wrong_channel_count():
    with pytest.raises(ValueError, match="ResNet was built for 1 channels but the input has 3"):
        cifar_resnet(8, in_channels=1)(torch.randn(1, 3, 28, 28))


def test_resnet50_loads_torchvision_weights_and_gives_the_same_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(weights=None).eval()
    # Non-trivial batch-norm statistics, so that every layer matters.
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
    ours = resnet50().eval()
    ours.load_state_dict(from_torchvision_state_dict(reference.state_dict()))
    x = torch.randn(2, 3, 96, 80)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)
    assert count_parameters(ours) == count_parameters(reference) == 25_557_032


def randomize_batch_norm(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine parameters, so that every layer matters in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.rand(n, generator=generator) * 0.2 - 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(n, generator=generator) * 0.2 - 0.1)


# --- the parameter counts the book states --------------------------------------

# The SENet paper's sum for ResNet-50: sum_s N_s C_s^2 over its four stages.
RESNET50_SUM_N_C2 = 3 * 256**2 + 4 * 512**2 + 6 * 1024**2 + 3 * 2048**2


@pytest.mark.parametrize(
    ("ratio", "stated"),
    [(16, 2_514_944), (4, 10_059_776), (32, 1_257_472), (8, 5_029_888)],
)
def test_se_resnet50_adds_the_papers_parameter_count(ratio, stated):
    # Chapter 2 states 2,514,944 at r = 16 and, in its solutions, 10,059,776 at r = 4 and 1,257,472 at r = 32.
    assert 2 * RESNET50_SUM_N_C2 // ratio == stated
    with torch.device("meta"):  # counting needs shapes only
        extra = count_parameters(se_resnet50(reduction_ratio=ratio)) - count_parameters(resnet50())
    assert extra == stated


def test_se_parameters_sit_mostly_in_the_last_stage_and_add_about_ten_percent():
    with torch.device("meta"):
        plain, with_se = resnet50(), se_resnet50()
    se_total = sum(count_parameters(m) for m in with_se.modules() if isinstance(m, SEBlock))
    se_last = sum(count_parameters(m) for m in with_se.layer4.modules() if isinstance(m, SEBlock))
    assert count_parameters(plain) == 25_557_032  # "its 25.6 million"
    assert count_parameters(with_se) == 28_071_976
    assert round(se_total / count_parameters(plain), 2) == 0.10  # "roughly 10%"
    assert round(se_last / se_total, 2) == 0.63  # "approximately 63%" in the last stage


# --- zero-initialised residual branches ----------------------------------------

LAYOUTS = {
    "basic": (BasicResNetBlock, "bn2"),
    "bottleneck v1.5": (BottleneckBlock, "bn3"),
    "bottleneck stride on 1x1": (partial(BottleneckBlock, stride_on_1x1=True), "bn3"),
}
ATTENTION_CASES = [(None, "standard")] + [("se", placement) for placement in PLACEMENTS]


def small_resnet(layout: str, **options) -> ResNet:
    """Two stages of every kind of block: projection and identity shortcuts, stride 1 and 2."""
    block, _ = LAYOUTS[layout]
    channels = [16, 32] if layout == "basic" else [32, 64]
    spec = ModelSpec(depth=8, **options)  # the attention and initialisation fields, for this stage layout
    return ResNet(
        block, [1, 2], channels, stem="cifar", stem_channels=8, in_channels=3, num_classes=5,
        **spec.resnet_options(),
    )  # fmt: skip


def without_branch(block: ResidualBlock, x: torch.Tensor) -> torch.Tensor:
    """What the block computes when its residual branch outputs zero, placement by placement."""
    shortcut = block.shortcut(x)
    return {
        "standard": lambda: torch.relu(shortcut),
        "pre": lambda: torch.relu(shortcut),
        "post": lambda: block.attention(torch.relu(shortcut)),
        "identity": lambda: torch.relu(block.attention(shortcut)),
    }[block.placement]()


@pytest.mark.parametrize("seed", [None, 0])
@pytest.mark.parametrize(("attention", "placement"), ATTENTION_CASES)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_zero_init_residual_zeroes_the_last_bn_of_every_branch_and_nothing_else(
    layout, attention, placement, seed
):
    torch.manual_seed(1)
    model = small_resnet(
        layout, attention=attention, placement=placement, zero_init_residual=True, seed=seed
    ).train()
    _, last_bn = LAYOUTS[layout]
    blocks = [name for name, m in model.named_modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 3
    zeroed = {f"{name}.{last_bn}" for name in blocks}
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            expected = 0.0 if name in zeroed else 1.0
            assert torch.equal(module.weight, torch.full_like(module.weight, expected)), name
            assert torch.equal(module.bias, torch.zeros_like(module.bias)), name
    # So each block starts as if it had no residual branch.
    with torch.no_grad():
        for name in blocks:
            block = model.get_submodule(name)
            x = torch.randn(4, block.in_channels, 8, 8)
            torch.testing.assert_close(block(x), without_branch(block, x))


def test_without_zero_init_the_branches_contribute():
    model = small_resnet("bottleneck v1.5", attention="se", zero_init_residual=False).train()
    block = model.layer2[1]
    x = torch.randn(4, block.in_channels, 8, 8)
    with torch.no_grad():
        assert (block(x) - without_branch(block, x)).abs().max() > 0.1


# --- one seed, the same weights in every shared layer ---------------------------


def assert_shared_layers_identical(a: nn.Module, b: nn.Module) -> set[str]:
    """Every state-dict entry the two models share (same name and shape) is identical;
    the entries they do not share are attention layers. Returns the shared names."""
    state_a, state_b = a.state_dict(), b.state_dict()
    shared = {k for k in state_a if k in state_b and state_a[k].shape == state_b[k].shape}
    for key in sorted(shared):
        assert torch.equal(state_a[key], state_b[key]), key
    assert all(".attention." in key for key in (state_a.keys() | state_b.keys()) - shared)
    return shared


SE_VARIANTS = {
    "plain": {},
    **{f"se {placement}": {"attention": "se", "placement": placement} for placement in PLACEMENTS},
    "se r=4": {"attention": attention_layer("se", reduction_ratio=4)},
    "se max squeeze": {"attention": attention_layer("se", squeeze="max")},
    "se tanh gate": {"attention": attention_layer("se", gate="tanh")},
    "se hard sigmoid": {"attention": attention_layer("se", gate="hard_sigmoid")},
}


@pytest.mark.parametrize("variant", sorted(set(SE_VARIANTS) - {"se standard"}))
def test_models_built_with_one_seed_share_every_common_layer(variant):
    torch.manual_seed(1)
    reference = cifar_resnet(14, attention="se", seed=7)
    torch.manual_seed(2)  # the global generator's state must not matter
    other = cifar_resnet(14, seed=7, **SE_VARIANTS[variant])
    shared = assert_shared_layers_identical(reference, other)
    # Everything but attention is shared: stem, convolutions, BNs, classifier.
    assert {key for key in shared if ".attention." not in key} == set(cifar_resnet(14).state_dict())


def test_seeded_initialisation_is_deterministic_and_keyed_by_seed_and_layer():
    torch.manual_seed(1)
    first = cifar_resnet(8, attention="se", seed=0).state_dict()
    torch.manual_seed(2)
    again = cifar_resnet(8, attention="se", seed=0).state_dict()
    other_seed = cifar_resnet(8, attention="se", seed=1).state_dict()
    assert first.keys() == again.keys()
    assert all(torch.equal(first[key], again[key]) for key in first)
    random_keys = [key for key in first if key.endswith("weight") and first[key].unique().numel() > 1]
    assert len(random_keys) == 1 + 3 * 2 + 2 + 3 * 2 + 1  # stem, block convs, shortcut convs, SE, fc
    assert not any(torch.equal(first[key], other_seed[key]) for key in random_keys)
    # Two layers of one shape draw different weights: the layer's name is part of the key.
    assert not torch.equal(first["layer1.0.conv1.weight"], first["layer1.0.conv2.weight"])
    # He-normal convolutions (fan_out): std = sqrt(2 / (C_out * k * k)).
    conv = first["layer3.0.conv1.weight"]  # 64 x 32 x 3 x 3
    assert conv.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)


def test_seeded_construction_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    cifar_resnet(8, attention="se", seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_resnet50_and_se_resnet50_built_with_one_seed_share_every_common_layer():
    plain, with_se = resnet50(seed=3), se_resnet50(seed=3)
    shared = assert_shared_layers_identical(plain, with_se)
    assert shared == set(plain.state_dict())


# --- fx tracing and feature extraction ------------------------------------------

FX_CASES = {
    "plain": {},
    **{f"se {placement}": {"attention": "se", "placement": placement} for placement in PLACEMENTS},
    "se max squeeze": {"attention": attention_layer("se", squeeze="max")},
}


@pytest.mark.parametrize("case", sorted(FX_CASES))
def test_fx_symbolic_trace_matches_eager(case):
    model = cifar_resnet(8, in_channels=1, seed=0, **FX_CASES[case]).eval()
    randomize_batch_norm(model)
    traced = torch.fx.symbolic_trace(model)
    calls = {node.target for node in traced.graph.nodes if node.op == "call_module"}
    assert ("layer2.0.attention.fc1" in calls) == (case != "plain")
    with torch.no_grad():
        for shape in [(2, 1, 28, 28), (3, 1, 20, 12)]:  # the trace holds no fixed shape
            x = torch.randn(shape)
            torch.testing.assert_close(traced(x), model(x))


@pytest.mark.parametrize("squeeze", ["avg", "max"])
def test_fx_symbolic_trace_of_an_se_block_matches_eager(squeeze):
    torch.manual_seed(0)
    block = SEBlock(16, 4, squeeze=squeeze)
    traced = torch.fx.symbolic_trace(block)
    for shape in [(2, 16, 5, 7), (1, 16, 9, 3)]:
        x = torch.randn(shape)
        torch.testing.assert_close(traced(x), block(x))


def test_feature_extractor_returns_the_stage_outputs():
    model = cifar_resnet(8, in_channels=1, attention="se", seed=0).eval()
    extractor = create_feature_extractor(model, {"layer1": "s1", "layer2": "s2", "layer3": "s3"})
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        stages = extractor(x)
        assert {k: tuple(v.shape) for k, v in stages.items()} == {
            "s1": (2, 16, 28, 28),
            "s2": (2, 32, 14, 14),
            "s3": (2, 64, 7, 7),
        }
        torch.testing.assert_close(stages["s3"], model.features(x))
        torch.testing.assert_close(stages["s2"], model.layer2(model.layer1(model.bn1(model.conv1(x)).relu())))


def test_feature_extractor_on_se_resnet50_stages():
    with torch.device("meta"):  # shapes only
        model = se_resnet50().eval()
        extractor = create_feature_extractor(model, [f"layer{i}" for i in range(1, 5)])
        stages = extractor(torch.zeros(1, 3, 64, 64))
    assert [tuple(v.shape) for v in stages.values()] == [
        (1, 256, 16, 16),
        (1, 512, 8, 8),
        (1, 1024, 4, 4),
        (1, 2048, 2, 2),
    ]


# --- ResNet-50 layouts ----------------------------------------------------------


@pytest.mark.parametrize("stride_on_1x1", [False, True])
def test_resnet50_puts_the_downsampling_stride_where_asked(stride_on_1x1):
    with torch.device("meta"):
        model = resnet50(stride_on_1x1=stride_on_1x1)
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for index, block in enumerate(getattr(model, stage)):
            downsamples = stage != "layer1" and index == 0
            expected = 2 if downsamples else 1
            strides = (block.conv1.stride[0], block.conv2.stride[0], block.conv3.stride[0])
            assert strides == ((expected, 1, 1) if stride_on_1x1 else (1, expected, 1)), (stage, index)
            if index == 0:
                assert block.shortcut[0].stride == (expected, expected)


# --- timm's ResNet-50 and SE-ResNet-50 ------------------------------------------


def timm_model(name: str) -> nn.Module:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    randomize_batch_norm(model)
    return model


def se_biases(model: nn.Module) -> list[nn.Parameter]:
    return [m.bias for name, m in model.named_modules() if ".se.fc" in name]


def loaded(build, state_dict) -> nn.Module:
    """Our model with ``state_dict`` loaded (strictly), without spending time on its own initialisation."""
    with torch.device("meta"):
        model = build()
    model.load_state_dict(state_dict, assign=True)
    return model.eval()


def test_timm_seresnet50_has_the_parameter_count_of_se_resnet50_with_biases():
    with torch.device("meta"):  # these counts run without timm too
        assert count_parameters(se_resnet50(bias=True)) == 28_088_024
        # The SE biases are the only difference: C / 16 + C per block.
        biases = sum(n * (c // 16 + c) for n, c in [(3, 256), (4, 512), (6, 1024), (3, 2048)])
        assert count_parameters(se_resnet50()) == 28_088_024 - biases == 28_071_976
    reference = timm_model("seresnet50")
    assert count_parameters(reference) == 28_088_024
    assert sum(b.numel() for b in se_biases(reference)) == biases


def test_timm_seresnet50_weights_give_the_same_outputs():
    reference = timm_model("seresnet50")
    with torch.no_grad():
        for bias in se_biases(reference):
            bias.uniform_(-0.5, 0.5)
    ours = loaded(partial(se_resnet50, bias=True), from_timm_state_dict(reference.state_dict()))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)


def test_bias_free_se_resnet50_equals_timm_with_zero_se_biases():
    reference = timm_model("seresnet50")
    with torch.no_grad():
        for bias in se_biases(reference):
            bias.zero_()
    state = {k: v for k, v in reference.state_dict().items() if not (".se." in k and k.endswith(".bias"))}
    ours = loaded(se_resnet50, from_timm_state_dict(state))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)


def test_timm_resnet50_weights_give_the_same_outputs():
    reference = timm_model("resnet50")
    ours = loaded(resnet50, from_timm_state_dict(reference.state_dict()))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)


def test_timm_parity_reports_both_networks_agreeing_and_counts_the_se_biases():
    reference = timm_model("seresnet50")
    with torch.no_grad():
        for bias in se_biases(reference):
            bias.uniform_(-0.5, 0.5)  # nonzero: the bias-free network agrees only with them zeroed
    before = [b.clone() for b in se_biases(reference)]
    report = timm_parity(reference, torch.randn(2, 3, 64, 64))
    assert report == {
        "timm seresnet50": (28_088_024, None),
        "se_resnet50(bias=True)": (28_088_024, True),
        "se_resnet50() (no biases)": (28_071_976, True),
        "SE biases (32 tensors)": (16_048, None),
    }
    assert all(torch.equal(a, b) for a, b in zip(before, se_biases(reference), strict=True))  # untouched


def test_timm_parity_notices_a_converter_that_gets_a_weight_wrong(monkeypatch):
    from se_tutorial.nn import foreign_weights

    convert = foreign_weights.from_timm_state_dict

    def off_by_one(state):
        weights = convert(state)
        return {**weights, "fc.weight": weights["fc.weight"] + 1}

    monkeypatch.setattr(foreign_weights, "from_timm_state_dict", off_by_one)
    report = timm_parity(timm_model("seresnet50"), torch.randn(2, 3, 64, 64))
    assert report["se_resnet50(bias=True)"][1] is False and report["se_resnet50() (no biases)"][1] is False
