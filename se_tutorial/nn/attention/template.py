"""One template for every module here: gather context, transform it, fuse it back into the map.

The global-context paper (Cao et al., ICCV-W 2019, Section 3.3) frames SE and
its successors as three steps on a map ``x`` of shape ``(N, C, H, W)``:

* **gather** (context modelling): summarise ``x`` into a small context, ``(N, C)``
  for a global descriptor, or strips or a coarse map where the module keeps position;
* **transform**: turn the context into weights (or an offset), usually with few parameters;
* **fuse**: bring them back to every position of ``x``, by scaling or by adding.

:data:`TEMPLATES` says what each module of :data:`~se_tutorial.nn.attention.ATTENTION_LAYERS`
does at each step (and GE's parametric variant, ``"ge-theta"``), with shapes, so that a
reader can see what each changes from SE. It is a description, read by the book's
table; every module's own file holds its equations and its code.
"""

from __future__ import annotations

from typing import NamedTuple


class Template(NamedTuple):
    """What a module does at each step of gather, transform, fuse (shapes for an ``(N, C, H, W)`` map)."""

    gather: str
    transform: str
    fuse: str


#: One :class:`Template` per module name, in the order chapter 7 meets them.
TEMPLATES: dict[str, Template] = {
    "se": Template("average over H, W: (N, C)", "FC C→C/r, ReLU, FC C/r→C, sigmoid", "x · s per channel"),
    "ese": Template("average over H, W: (N, C)", "one FC C→C, hard sigmoid", "x · s per channel"),
    "eca": Template(
        "average over H, W: (N, C)", "1-D conv of size k(C) along the channels, sigmoid", "x · s per channel"
    ),
    "fca": Template("K DCT coefficients, one per channel group: (N, C)", "as SE", "x · s per channel"),
    "srm": Template(
        "mean and standard deviation: (N, C, 2)", "2 weights per channel, BN, sigmoid", "x · s per channel"
    ),
    "gc": Template(
        "softmax-weighted sum over positions: (N, C)",
        "1x1 conv C→C/r, LayerNorm, ReLU, 1x1 conv C/r→C",
        "x + d per channel (added)",
    ),
    "ge": Template("average over H, W: (N, C)", "none", "x · sigmoid(context) per channel"),
    "ge-theta": Template(
        "log2(e) depthwise 3x3 stride-2 convs: (N, C, H/e, W/e)",
        "none (BN inside the gather)",
        "x · sigmoid(upsampled context) per position",
    ),
    "cbam": Template(
        "average and max over H, W: 2 x (N, C); then mean and max over C: (N, 2, H, W)",
        "shared MLP C→C/r→C on both, summed, sigmoid; then 7x7 conv, sigmoid",
        "x · s per channel, then · m per position",
    ),
    "coord": Template(
        "average along W and along H: (N, C, H) and (N, C, W)",
        "shared 1x1 conv C→C', BN, h-swish; a 1x1 conv C'→C per axis, sigmoid",
        "x · g_h · g_w per position",
    ),
    "simam": Template(
        "mean and variance over H, W: (N, C, 1, 1)",
        "each neuron's inverse energy 1/e (no parameters)",
        "x · sigmoid(1/e) per neuron",
    ),
}
