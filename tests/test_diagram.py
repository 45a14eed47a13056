"""The data-flow diagram is traced from the module, so it must follow every placement."""

import matplotlib
import pytest
import torch

from se_tutorial import PLACEMENTS, BasicResNetBlock, SEBottleneckBlock, SEResNetBlock
from se_tutorial.diagram import block_dataflow, draw_block

matplotlib.use("Agg")


def names(steps):
    return [step.name for step in steps]


def test_standard_se_block_flows_as_the_seed_describes():
    steps = block_dataflow(SEResNetBlock(8, 16, stride=2), torch.randn(1, 8, 8, 8))
    assert names(steps) == [
        "input", "shortcut", "conv1", "bn1", "relu", "conv2", "bn2", "attention", "+", "relu", "output",
    ]  # fmt: skip
    add = steps[names(steps).index("+")]
    assert sorted(names([steps[i] for i in add.inputs])) == ["attention", "shortcut"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_the_attention_box_is_fed_by_what_the_placement_says(placement):
    steps = block_dataflow(SEResNetBlock(8, 16, stride=2, placement=placement), torch.randn(1, 8, 6, 6))
    attention = steps[names(steps).index("attention")]
    feeder = steps[attention.inputs[0]].name
    assert feeder == {"standard": "bn2", "pre": "input", "post": "relu", "identity": "shortcut"}[placement]


def test_identity_shortcut_has_no_box_and_se_identity_reads_the_input():
    plain = block_dataflow(BasicResNetBlock(8, 8), torch.randn(1, 8, 4, 4))
    assert "attention" not in names(plain) and "shortcut" not in names(plain)
    add = plain[names(plain).index("+")]
    assert names([plain[i] for i in add.inputs]) == ["input", "bn2"]  # the arrow is the shortcut
    se_identity = block_dataflow(SEResNetBlock(8, 8, placement="identity"), torch.randn(1, 8, 4, 4))
    attention = se_identity[names(se_identity).index("attention")]
    assert se_identity[attention.inputs[0]].name == "input"
    boxes = draw_block(SEResNetBlock(8, 8, placement="identity"), torch.randn(1, 8, 4, 4)).axes[0].texts
    x_of = {t.get_text(): t.get_position()[0] for t in boxes if t.get_bbox_patch()}
    assert x_of["attention: SE, r=16"] > x_of["conv1: 3x3 conv"]  # drawn on the shortcut's side


def test_bottleneck_block():
    bottleneck = names(block_dataflow(SEBottleneckBlock(16, 64), torch.randn(1, 16, 4, 4)))
    assert bottleneck.index("bn3") + 1 == bottleneck.index("attention")


def test_drawing_has_one_box_per_step_and_keeps_training_mode():
    block = SEResNetBlock(8, 8).train()
    figure = draw_block(block, torch.randn(1, 8, 4, 4))
    boxes = [t for t in figure.axes[0].texts if t.get_bbox_patch()]
    assert len(boxes) == len(block_dataflow(block, torch.randn(1, 8, 4, 4)))
    assert block.training
