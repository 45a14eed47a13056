"""Every figure the chapters draw with se_tutorial.book: one column wide, no text below 9 pt.

On a phone a figure in a cell's output gets 342 px; a PNG wider than 475 px (at 100 dpi) is
shrunk until its 9 pt text is under 9 px (see se_tutorial.book.chapter). Each
figure is saved as the notebooks save it (inline backend: tight bounding box).
"""

import io
import struct

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text

from se_tutorial import cifar_resnet
from se_tutorial.book import figures
from se_tutorial.book.chapter import MIN_FONT_PT, book_style
from se_tutorial.book.diagrams import draw_blocks
from se_tutorial.data import DeviceLoader
from se_tutorial.studies import excitation_statistics
from se_tutorial.training.history import History

matplotlib.use("Agg")
PHONE_COLUMN_PX = 342
LEGIBLE_PX = 9
#: the widest PNG whose smallest text still reads at LEGIBLE_PX on a phone
WIDEST_PX = PHONE_COLUMN_PX * (MIN_FONT_PT * 100 / 72) / LEGIBLE_PX

CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def history(offset: float) -> History:
    rows = [
        {"epoch": e, "train_loss": 1.5 - e / 4 + offset, "train_accuracy": 0.6 + e / 20, "test_loss": 1.2 - e / 5,
         "test_accuracy": 0.7 + e / 25 + offset, "lr": 0.1, "seconds": 10.0, "tta": False}
        for e in (1, 2, 3, 4)
    ]  # fmt: skip
    return History(rows, {"label_smoothing": 0.1, "num_classes": 10})


def excitations():
    model = cifar_resnet(8, in_channels=1, num_classes=10, attention="se", seed=0)
    images = torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8)
    loader = DeviceLoader(images, torch.arange(30) % 10, batch_size=16, mean=(0.5,), std=(0.25,))
    return excitation_statistics(model, loader, num_classes=10)


def block_pair():
    from se_tutorial import SEResNetBlock

    return {f"placement = {p!r}": SEResNetBlock(32, 64, stride=2, placement=p) for p in ("standard", "pre")}


FIGURES = {
    "sample_batch": lambda: figures.sample_batch(torch.randn(16, 1, 28, 28), torch.arange(16) % 10, CLASSES),
    "learning_curves": lambda: figures.learning_curves({"ResNet": history(0.0), "SE-ResNet": history(0.01)}),
    "confusion": lambda: figures.confusion(
        torch.randint(0, 1000, (10, 10)), CLASSES, "SE-ResNet on the test set"
    ),
    "misclassified": lambda: figures.misclassified(
        torch.rand(12, 1, 28, 28), torch.arange(12) % 10, (torch.arange(12) + 1) % 10, CLASSES
    ),
    "paired_lines": lambda: figures.paired_lines(
        {"ResNet": {0: 0.92, 1: 0.921}, "SE-ResNet": {0: 0.91, 1: 0.915}}
    ),
    "excitations_by_class": lambda: figures.excitations_by_class(excitations(), CLASSES),
    "by_block": lambda: figures.by_block(
        {"layer1.0.attention": 2.5, "layer2.0.attention": 2.1}, "specificity"
    ),
    "draw_blocks": lambda: draw_blocks(block_pair(), torch.randn(1, 32, 16, 16)),
    "contrast_dots": lambda: figures.contrast_dots(
        {
            "SE - plain, standard init": {0: -0.001, 1: 0.002, 2: -0.003},
            "interaction (SE's effect, zero-init - standard)": {0: 0.004, 1: -0.001, 2: 0.0},
        }
    ),
}


def png_width(figure) -> int:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")  # as the inline backend saves it
    return struct.unpack(">I", buffer.getvalue()[16:20])[0]


@pytest.mark.parametrize("name", FIGURES)
def test_a_figure_fits_a_phone_column_with_legible_text(name):
    book_style()
    figure = FIGURES[name]()
    try:
        width = png_width(figure)
        assert width <= WIDEST_PX, f"{name}: {width} px wide; its {MIN_FONT_PT} pt text would be under 9 px"
        sizes = {text.get_fontsize() for text in figure.findobj(Text) if text.get_text().strip()}
        assert min(sizes) >= MIN_FONT_PT, f"{name}: text at {min(sizes)} pt"
    finally:
        plt.close(figure)
