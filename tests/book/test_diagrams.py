"""The diagrams are traced from the module, so they must follow every placement and SE width,
and they must stay legible in the book: 9 pt text or larger, nothing overlapping, no arrow
through a box, at most 6.9 in wide."""

import itertools

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from se_tutorial import PLACEMENTS, BasicResNetBlock, SEBlock, SEBottleneckBlock, SEResNetBlock, cifar_resnet
from se_tutorial.book.dataflow import block_dataflow
from se_tutorial.book.diagrams import draw_block, draw_blocks, draw_se_block

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_new_figures():
    before = set(plt.get_fignums())
    yield
    for number in set(plt.get_fignums()) - before:
        plt.close(number)


def names(steps):
    return [step.name for step in steps]


# --- the traced steps ---------------------------------------------------------------------------


def test_standard_se_block_flows_as_the_seed_describes():
    steps = block_dataflow(SEResNetBlock(8, 16, stride=2), torch.randn(1, 8, 8, 8))
    assert names(steps) == [
        "input", "shortcut", "conv1", "bn1", "relu", "conv2", "bn2", "attention", "+", "relu", "output",
    ]  # fmt: skip
    add = steps[names(steps).index("+")]
    assert sorted(names([steps[i] for i in add.inputs])) == ["attention", "shortcut"]
    assert [step.shape for step in steps][:3] == [("N", 8, 8, 8), ("N", 16, 4, 4), ("N", 16, 4, 4)]


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


def test_bottleneck_block():
    bottleneck = names(block_dataflow(SEBottleneckBlock(16, 64), torch.randn(1, 16, 4, 4)))
    assert bottleneck.index("bn3") + 1 == bottleneck.index("attention")


# (channels, SEBlock options, height, width, the hidden width it must have)
SE_CASES = [
    (64, {}, 14, 14, 4),  # r = 16: 64 / 16
    (48, {"reduction_ratio": 4}, 7, 5, 12),
    (16, {}, 8, 8, 8),  # the small-channel rule: C <= r halves the channels
    (8, {"reduction_ratio": 32}, 3, 3, 4),
    (32, {"hidden_channels": 5}, 6, 2, 5),  # explicit width, r ignored
    (24, {"reduction_ratio": 2, "squeeze": "max"}, 4, 4, 12),
]


@pytest.mark.parametrize(("channels", "options", "height", "width", "hidden"), SE_CASES)
@pytest.mark.parametrize("batch", [1, 3])
def test_se_steps_and_shapes_are_those_of_the_module(channels, options, height, width, hidden, batch):
    block = SEBlock(channels, **options)
    x = torch.randn(batch, channels, height, width)
    steps = block_dataflow(block, x)
    c, h, w = channels, height, width
    assert [(step.name, step.shape) for step in steps] == [
        ("input", ("N", c, h, w)),
        ("squeeze", ("N", c)),
        ("fc1", ("N", hidden)),
        ("act", ("N", hidden)),
        ("fc2", ("N", c)),
        ("gate", ("N", c)),
        ("scale", ("N", c, h, w)),
        ("output", ("N", c, h, w)),
    ]
    scale = steps[names(steps).index("scale")]
    assert sorted(names([steps[i] for i in scale.inputs])) == ["gate", "input"]  # x * s
    squeeze = "global max pool" if options.get("squeeze") == "max" else "global average pool"
    assert steps[1].kind == squeeze
    # and the shapes a real forward pass produces agree, with N = batch
    seen = {}
    for name in ("fc1", "act", "fc2", "gate"):
        getattr(block, name).register_forward_hook(
            lambda m, i, out, name=name: seen.update({name: out.shape})
        )
    assert tuple(block(x).shape) == (batch, c, h, w)
    for step in steps:
        if step.name in seen:
            assert tuple(seen[step.name]) == tuple(batch if d == "N" else d for d in step.shape)


def box_texts(figure):
    """Texts drawn inside a box, with their positions."""
    return [t for ax in figure.axes for t in ax.texts if t.get_ha() == "center"]


@pytest.mark.parametrize(("channels", "options", "height", "width", "hidden"), SE_CASES)
def test_se_figure_shows_every_step_the_hidden_width_and_each_shape(channels, options, height, width, hidden):
    figure = draw_se_block(SEBlock(channels, **options), torch.randn(2, channels, height, width))
    ax = figure.axes[0]
    boxes = sorted(box_texts(figure), key=lambda t: -t.get_position()[1])  # top to bottom
    assert [t.get_text().split(":")[0] for t in boxes] == [
        "input", "squeeze", "fc1", "act", "fc2", "gate", "scale", "output",
    ]  # fmt: skip
    assert f"Linear {channels}→{hidden}" in boxes[2].get_text()
    assert f"Linear {hidden}→{channels}" in boxes[4].get_text()
    assert f"{channels}→{hidden}→{channels}" in ax.get_title()
    notes = [t.get_text() for t in ax.texts if t.get_ha() != "center"]
    full = f"(N, {channels}, {height}, {width})"
    assert notes.count(full) == 3  # into squeeze, x into scale, out of scale
    assert notes.count(f"(N, {hidden})") == 2 and notes.count(f"(N, {channels})") == 3


def test_labels_show_the_true_hidden_width():
    # The first stage of the book's small ResNets has 16 channels: at r = 16 the rule gives 8, not 1.
    first_block = cifar_resnet(8, attention="se").layer1[0]
    steps = block_dataflow(first_block, torch.randn(1, 16, 8, 8))
    assert steps[names(steps).index("attention")].label == "attention: SE 16→8→16"
    explicit = SEResNetBlock(32, 32, hidden_channels=5)
    assert "SE 32→5→32" in [t.get_text() for t in box_texts(draw_block(explicit, torch.randn(1, 32, 4, 4)))]


# --- the drawings -------------------------------------------------------------------------------


def main_and_side_columns(ax):
    """Box texts of the main column and of the side column, each top to bottom."""
    texts = sorted((t for t in ax.texts if t.get_ha() == "center"), key=lambda t: -t.get_position()[1])
    main_x = next(t.get_position()[0] for t in texts if t.get_text() == "input")
    main = [t.get_text() for t in texts if t.get_position()[0] == main_x]
    side = [t.get_text() for t in texts if t.get_position()[0] > main_x]
    return main, side


def test_placement_grid_draws_each_placement_in_its_order():
    x = torch.randn(1, 32, 16, 16)
    blocks = {p: SEResNetBlock(32, 64, stride=2, placement=p) for p in PLACEMENTS}
    figure = draw_blocks(blocks, x)
    branch = ["3x3 conv, stride 2", "BN", "ReLU", "3x3 conv", "BN"]
    se, projection = "SE 64→4→64", "1x1 conv, stride 2 + BN"
    expected = {
        "standard": (["input", *branch, se, "+", "ReLU", "output"], [projection]),
        "pre": (["input", "SE 32→2→32", *branch, "+", "ReLU", "output"], [projection]),
        "post": (["input", *branch, "+", "ReLU", se, "output"], [projection]),
        "identity": (["input", *branch, "+", "ReLU", "output"], [projection, se]),
    }
    assert [ax.get_title() for ax in figure.axes] == list(PLACEMENTS)
    for ax, placement in zip(figure.axes, PLACEMENTS, strict=True):
        assert main_and_side_columns(ax) == expected[placement], placement


def test_drawing_has_one_box_per_step_and_keeps_training_mode():
    block = SEResNetBlock(8, 8).train()
    figure = draw_block(block, torch.randn(1, 8, 4, 4))
    assert len(box_texts(figure)) == len(block_dataflow(block, torch.randn(1, 8, 4, 4)))
    assert block.training


def placements_grid():
    blocks = {f"placement = {p!r}": SEResNetBlock(32, 64, 2, placement=p) for p in PLACEMENTS}
    return draw_blocks(blocks, torch.randn(1, 32, 16, 16))


def small_blocks(columns):
    blocks = {"plain": BasicResNetBlock(16, 16)}
    blocks.update({p: SEResNetBlock(16, 16, placement=p) for p in PLACEMENTS})
    return draw_blocks(blocks, torch.randn(1, 16, 8, 8), columns=columns)


BOOK_FIGURES = {
    "placements, 2x2": placements_grid,
    "standard": lambda: draw_block(SEResNetBlock(32, 64, stride=2), torch.randn(1, 32, 16, 16)),
    "bottleneck": lambda: draw_block(SEBottleneckBlock(64, 256, stride=2), torch.randn(1, 64, 8, 8)),
    "no projection, 2 across": lambda: small_blocks(columns=2),
    "no projection, 3 across": lambda: small_blocks(columns=3),
    "SE block": lambda: draw_se_block(SEBlock(64), torch.randn(1, 64, 14, 14)),
    "SE block, 16 channels": lambda: draw_se_block(SEBlock(16, squeeze="max"), torch.randn(1, 16, 28, 28)),
}


@pytest.fixture(scope="module", params=list(BOOK_FIGURES))
def drawn(request):
    figure = BOOK_FIGURES[request.param]()
    figure.canvas.draw()
    yield figure
    plt.close(figure)


def extents(figure):
    """The renderer, the texts shown (box labels, shape labels, titles), the boxes and the arrows."""
    renderer = figure.canvas.get_renderer()
    texts = [t for ax in figure.axes for t in [*ax.texts, ax.title] if t.get_visible() and t.get_text()]
    boxes = [p for p in figure.findobj(FancyBboxPatch) if p.axes is not None]
    return renderer, texts, boxes, figure.findobj(FancyArrowPatch)


def segments(arrow):
    """The straight pieces of an arrow's line and head, in pixels."""
    path = arrow.get_transform().transform_path(arrow.get_path())
    start = previous = None
    for vertex, code in path.iter_segments():
        if code == Path.MOVETO:
            start = previous = vertex
        elif code == Path.LINETO:
            yield Path([previous, vertex])
            previous = vertex
        elif code == Path.CLOSEPOLY:  # its vertex is a placeholder: the piece goes back to the start
            yield Path([previous, start])
        else:
            raise AssertionError(f"arrows are drawn with straight lines only, got path code {code}")


def test_fits_the_book_column_with_text_of_nine_points_or_more(drawn):
    figure = drawn
    _, texts, _, _ = extents(figure)
    assert figure.get_figwidth() <= 6.9
    assert texts and min(t.get_fontsize() for t in texts) >= 9


def test_no_two_labels_overlap_and_all_lie_inside_the_figure(drawn):
    figure = drawn
    renderer, texts, _, _ = extents(figure)
    frames = [t.get_window_extent(renderer) for t in texts]
    for (a, frame_a), (b, frame_b) in itertools.combinations(zip(texts, frames, strict=True), 2):
        assert not frame_a.overlaps(frame_b), (a.get_text(), b.get_text())
    for text, frame in zip(texts, frames, strict=True):
        assert figure.bbox.x0 <= frame.x0 and frame.x1 <= figure.bbox.x1, text.get_text()
        assert figure.bbox.y0 <= frame.y0 and frame.y1 <= figure.bbox.y1, text.get_text()


def test_every_box_text_fits_inside_its_box_and_other_texts_stay_out_of_boxes(drawn):
    figure = drawn
    renderer, all_texts, boxes, _ = extents(figure)
    texts = box_texts(figure)
    assert len(boxes) == len(texts)
    for other in (t for t in all_texts if t not in texts):  # shapes beside the arrows, titles
        for box in boxes:
            assert not other.get_window_extent(renderer).overlaps(box.get_window_extent(renderer)), (
                other.get_text()
            )
    for text, box in zip(texts, boxes, strict=True):
        assert box.get_window_extent(renderer).padded(-1).contains(*text.get_window_extent(renderer).min)
        assert box.get_window_extent(renderer).padded(-1).contains(*text.get_window_extent(renderer).max)


def test_no_arrow_crosses_a_label_or_a_box(drawn):
    figure = drawn
    renderer, texts, boxes, arrows = extents(figure)
    obstacles = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    # a box's frame, less one pixel: arrows may touch a box only where they start or end
    obstacles += [
        (f"box at {b.get_x():.0f}, {b.get_y():.0f}", b.get_window_extent(renderer).padded(-1)) for b in boxes
    ]
    assert arrows
    for piece in (piece for arrow in arrows for piece in segments(arrow)):
        for name, frame in obstacles:
            assert not piece.intersects_bbox(frame, filled=False), (name, piece.vertices)
