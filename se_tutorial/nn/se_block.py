"""The Squeeze-and-Excitation block (Hu et al., "Squeeze-and-Excitation
Networks", CVPR 2018 / TPAMI 2019).

For an input ``x`` of shape ``(N, C, H, W)`` the block computes, per sample:

* squeeze (the paper's Eq. 2): ``z_c = 1/(H W) * sum_ij x_c(i, j)``  -> ``(N, C)``
* excitation (Eq. 3):          ``s = gate(W2 @ relu(W1 @ z))``       -> ``(N, C)``
* scale (Eq. 4):               ``out_c = s_c * x_c``                 -> ``(N, C, H, W)``

``W1`` has shape ``(C/r, C)`` and ``W2`` has shape ``(C, C/r)``, where ``r``
is the reduction ratio. The paper's ablations swap the squeeze operator (average
or max pooling) and the gate (sigmoid, ReLU, tanh); both are options here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..utils import checks

#: The gates of the paper's Table 12 (plus the cheap hard sigmoid used by
#: MobileNetV3). Each maps excitation logits ``(N, C)`` to channel weights.
GATES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "hard_sigmoid": nn.Hardsigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
}


def spatial_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum over H and W of each channel, accumulated in float32: ``(N, C, H, W) -> (N, C)``.

    PyTorch's reductions already accumulate half and bfloat16 in float32, so a
    bfloat16 map is summed as it is (asking for ``dtype=torch.float32`` would first
    copy the whole map, 40 times the cost of the sum on a CPU). Only float16 is
    returned in float32: a sum over a 56x56 map could exceed its largest value.
    """
    return x.sum(dim=(2, 3), dtype=torch.float32 if x.dtype == torch.float16 else None)


def global_average_pool(x: torch.Tensor) -> torch.Tensor:
    """Eq. 2, the spatial mean of each channel: ``(N, C, H, W) -> (N, C)``.

    Written as a sum (:func:`spatial_sum`) times ``1 / (H W)`` rather than
    ``x.mean``: the backward pass of a sum is a free broadcast, where that of
    ``mean`` writes a divided copy of the full feature map (about 25% of the
    block's CPU time in ``benchmarks/se_block_speed.py``).
    """
    return (spatial_sum(x) / (x.shape[2] * x.shape[3])).to(x.dtype)


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    """The largest value of each channel: ``(N, C, H, W) -> (N, C)``."""
    return x.amax(dim=(2, 3))


# torch.fx.symbolic_trace records the pooling as one node instead of tracing its
# dtype logic on proxies (torch.export and torch.compile trace through it as usual).
torch.fx.wrap("global_average_pool")

#: Squeeze operators of the paper's Table 11: ``(N, C, H, W) -> (N, C)``.
SQUEEZES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "avg": global_average_pool,
    "max": global_max_pool,
}


def reduced_channels(channels: int, reduction_ratio: int) -> int:
    """Width of the excitation bottleneck: ``channels // reduction_ratio``.

    Small layers would get zero hidden units (16 channels at ``r=32``), so when
    ``channels <= reduction_ratio`` the bottleneck halves the channels instead,
    keeping at least one unit.

    >>> reduced_channels(256, 16), reduced_channels(16, 16), reduced_channels(1, 16)
    (16, 8, 1)
    """
    channels = checks.positive_int("channels", channels)
    reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
    if channels <= reduction_ratio:
        return max(channels // 2, 1)
    return channels // reduction_ratio


def exact_reduction(reduction_ratio: int) -> Callable[[int], int]:
    """A ``hidden_channels`` rule of exactly ``C / r`` units, for studies the small-channel rule would distort.

    ``SEBlock(C, r, hidden_channels="exact")`` applies it.

    >>> SEBlock(64, hidden_channels=exact_reduction(16)).hidden_channels
    4
    >>> SEBlock(64, 32, hidden_channels="exact").hidden_channels
    2
    """
    reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)

    def hidden(channels: int) -> int:
        if channels % reduction_ratio:
            raise ValueError(
                f"{channels} channels cannot be reduced by exactly r={reduction_ratio} "
                f"(C/r = {channels / reduction_ratio:g}); use an r that divides every "
                "stage's channels, or a wider network."
            )
        return channels // reduction_ratio

    return hidden


def bottleneck_width(
    channels: int, reduction_ratio: int, hidden_channels: int | Callable[[int], int] | str | None = None
) -> int:
    """The hidden width of an excitation's bottleneck over ``channels``, checked.

    ``hidden_channels`` as given: a number, a function ``C -> width``, or
    ``"exact"`` for exactly ``C / r`` (:func:`exact_reduction`); ``None`` takes
    the small-channel rule (:func:`reduced_channels`). SE, CBAM's channel MLP and
    global context's transform all size their bottleneck this way.

    >>> bottleneck_width(64, 16), bottleneck_width(16, 16), bottleneck_width(64, 16, "exact")
    (4, 8, 4)
    """
    if hidden_channels is None:
        hidden_channels = reduced_channels(channels, reduction_ratio)
    elif isinstance(hidden_channels, str):
        checks.choice("hidden_channels rule", hidden_channels, ["exact"])
        hidden_channels = exact_reduction(reduction_ratio)(channels)
    elif callable(hidden_channels):
        hidden_channels = hidden_channels(channels)
    return checks.positive_int("hidden_channels", hidden_channels)


class SEBlock(nn.Module):
    """Squeeze-and-Excitation channel attention.

    Args:
        channels: ``C``, the number of input (and output) channels.
        reduction_ratio: ``r``; the bottleneck has ``reduced_channels(C, r)`` units.
        hidden_channels: set the bottleneck width directly, overriding the
            small-channel rule: a number, a function ``C -> width``, or ``"exact"``
            for exactly ``C / r`` (an error where ``r`` does not divide ``C``).
        squeeze: ``"avg"`` (global average pooling, the paper's choice) or ``"max"``.
        gate: ``"sigmoid"`` (the paper's sigma), ``"hard_sigmoid"``, ``"tanh"`` or ``"relu"``.
        bias: give both Linear layers a bias (the seed tutorial uses none).

    Shape:
        input ``(N, C, H, W)`` of the module's float dtype (any float dtype under
        ``torch.autocast``) and any memory format;
        output has the same shape, dtype and memory format.

    The channel weights ``s`` leave the ``gate`` submodule, so a forward hook
    on ``block.gate`` (or :func:`capture_excitations`) reads them without
    changing the output.
    """

    def __init__(
        self,
        channels: int,
        reduction_ratio: int = 16,
        *,
        hidden_channels: int | Callable[[int], int] | str | None = None,
        squeeze: str = "avg",
        gate: str = "sigmoid",
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.channels = channels = checks.positive_int("channels", channels)
        self.reduction_ratio = checks.positive_int("reduction_ratio", reduction_ratio)
        self.hidden_channels = bottleneck_width(channels, reduction_ratio, hidden_channels)
        self.squeeze_name = checks.choice("squeeze", squeeze, SQUEEZES)
        self.gate_name = checks.choice("gate", gate, GATES)

        self.fc1 = nn.Linear(channels, self.hidden_channels, bias=bias)  # W1: C -> C/r
        self.act = nn.ReLU(inplace=True)  # delta in the paper's Eq. 3
        self.fc2 = nn.Linear(self.hidden_channels, channels, bias=bias)  # W2: C/r -> C
        self.gate = GATES[gate]()  # sigma in the paper's Eq. 3

    def squeeze(self, x: torch.Tensor) -> torch.Tensor:
        """Squeeze (paper's Eq. 2): ``(N, C, H, W) -> (N, C)``."""
        # Called by name, so that tracing records the pooling as one step.
        if self.squeeze_name == "avg":
            return global_average_pool(x)
        return global_max_pool(x)

    def excite(self, z: torch.Tensor) -> torch.Tensor:
        """Excitation (paper's Eq. 3): ``(N, C) -> (N, C/r) -> (N, C)``."""
        return self.gate(self.fc2(self.act(self.fc1(z))))

    def excitation(self, x: torch.Tensor) -> torch.Tensor:
        """Channel weights ``s``: ``(N, C, H, W) -> (N, C)``."""
        checks.feature_map(x, self.channels, "SEBlock", self.fc1.weight)
        return self.excite(self.squeeze(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.excitation(x)  # (N, C)
        return x * s[:, :, None, None]  # scale: broadcast over H and W

    def extra_repr(self) -> str:
        # Two lines, so that the printed module fits a narrow page.
        return (
            f"channels={self.channels}, hidden_channels={self.hidden_channels}, "
            f"reduction_ratio={self.reduction_ratio},\n"
            f"squeeze={self.squeeze_name!r}, gate={self.gate_name!r}"
        )


@contextmanager
def capture_excitations(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Record the channel weights of every :class:`SEBlock` inside ``model``.

    Yields a dict that each forward pass fills with ``{block name: s}``, where
    ``s`` is the detached ``(N, C)`` excitation of that pass. The hooks are
    removed on exit, and the model's outputs are unchanged::

        with capture_excitations(model) as excitations:
            model(images)
        excitations["layer3.0.attention"].shape   # (N, C)
    """
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, SEBlock):

            def record(_module, _inputs, output, name=name or "se"):
                captured[name] = output.detach()

            handles.append(module.gate.register_forward_hook(record))
    if not handles:
        raise ValueError(
            f"{type(model).__name__} contains no SEBlock, so there are no "
            "excitations to capture; pass a model built with SE attention."
        )
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
