"""ResNet builders: CIFAR-style depths, ResNet-50 parity with torchvision, SE cost."""

import pytest
import torch
import torchvision

from se_tutorial import (
    SEBlock,
    capture_excitations,
    cifar_resnet,
    count_parameters,
    from_torchvision_state_dict,
    resnet50,
    se_extra_parameters,
    se_resnet50,
)
from se_tutorial.models import RESNET50_STAGE_CHANNELS, RESNET50_STAGE_DEPTHS


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


def test_zero_init_residual_makes_every_block_start_as_the_identity_on_its_branch():
    model = cifar_resnet(8, zero_init_residual=True)
    assert all(block.bn2.weight.abs().sum() == 0 for block in model.layer1)


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


def test_se_resnet50_adds_exactly_the_papers_parameter_count():
    extra = count_parameters(se_resnet50()) - count_parameters(resnet50())
    formula = se_extra_parameters(RESNET50_STAGE_DEPTHS, RESNET50_STAGE_CHANNELS, 16)
    assert extra == formula == 2_514_944


@pytest.mark.parametrize("ratio", [4, 8, 32])
def test_se_resnet50_formula_holds_at_other_ratios(ratio):
    extra = count_parameters(se_resnet50(reduction_ratio=ratio)) - count_parameters(resnet50())
    assert extra == se_extra_parameters(RESNET50_STAGE_DEPTHS, RESNET50_STAGE_CHANNELS, ratio)
