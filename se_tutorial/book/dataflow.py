"""The data flow of a residual block or an SE block, traced from the module itself.

The book's diagrams (:mod:`.diagrams`) are not drawn by hand: :func:`block_dataflow` exports the module
with ``torch.export`` and groups the traced operations by the submodule that
ran them, so the picture changes whenever the code does (a new placement, a
new attention module) and can never disagree with it. The shapes come from
the trace too: the batch size is exported as a symbol and printed as ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..nn.se_block import SEBlock

#: Operations a module performs itself (not in a submodule) that get a box:
#: aten name -> (step name, what it does).
OWN_OPERATIONS = {
    "add": ("+", "+"),
    "mul": ("scale", "x · s"),
    "sum": ("squeeze", "global average pool"),  # global_average_pool sums, then divides
    "mean": ("squeeze", "global average pool"),
    "amax": ("squeeze", "global max pool"),
}
#: Operations that only reshape or cast a tensor: they draw no box of their own.
RESHAPES = {"slice", "unsqueeze", "squeeze", "view", "reshape", "expand", "to", "_to_copy", "alias"}


@dataclass
class Step:
    """One box of the diagram: a submodule call or an operation of the module itself."""

    name: str  #: submodule name (``"conv1"``, ``"attention"``), ``"+"``, ``"squeeze"``, ``"scale"``, ``"input"`` or ``"output"``
    inputs: list[int]  #: indices of the steps that feed it
    kind: str  #: what it does: ``"3x3 conv, stride 2"``, ``"SE 64→4→64"``, ``"global average pool"``
    shape: tuple[int | str, ...]  #: shape of its output, ``"N"`` for the batch dimension

    @property
    def label(self) -> str:
        """``"conv1: 3x3 conv, stride 2"``; just the name where it says it all (``"+"``, ``"input"``)."""
        return self.name if self.kind == self.name else f"{self.name}: {self.kind}"


def format_shape(shape: tuple[int | str, ...]) -> str:
    """``("N", 64, 14, 14)`` -> ``"(N, 64, 14, 14)"``."""
    return "(" + ", ".join(map(str, shape)) + ")"


def _kind(module: nn.Module) -> str:
    """What a submodule does, in a few words: ``"3x3 conv, stride 2"``, ``"BN"``, ``"SE 64→4→64"``."""
    if isinstance(module, nn.Conv2d):
        k, s = module.kernel_size[0], module.stride[0]
        return f"{k}x{k} conv" + (f", stride {s}" if s > 1 else "")
    if isinstance(module, nn.Sequential):
        return " + ".join(_kind(m) for m in module)
    if isinstance(module, SEBlock):  # the true hidden width: r alone hides the small-channel rule
        return f"SE {module.channels}→{module.hidden_channels}→{module.channels}"
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}"
    if isinstance(module, nn.BatchNorm2d):
        return "BN"
    return type(module).__name__


def _export(module: nn.Module, example: torch.Tensor) -> torch.fx.Graph:
    """The graph of ``module`` in eval mode, for inputs shaped like ``example`` but any batch size."""
    was_training = module.training
    module.eval()
    # A batch of one would be specialised to the constant 1, so trace a batch of two.
    batch = example.new_zeros((2, *example.shape[1:]))
    try:
        program = torch.export.export(module, (batch,), dynamic_shapes=({0: torch.export.Dim("N")},))
    finally:
        module.train(was_training)
    return program.graph


def block_dataflow(block: nn.Module, example: torch.Tensor) -> list[Step]:
    """The module's forward pass as steps in execution order, from ``torch.export``.

    Works for a residual block and for an :class:`SEBlock` itself (steps
    ``input, squeeze, fc1, act, fc2, gate, scale, output``). ``example`` is an
    input of shape ``(N, C, H, W)``; only its shape and dtype matter. The
    module is traced in eval mode and left in the mode it was in.
    """
    graph = _export(block, example)
    children = dict(block.named_children())
    user_input = next(n for n in graph.nodes if n.op == "placeholder" and n.name == "x")
    batch_symbol = str(user_input.meta["val"].shape[0])

    def shape_of(node: torch.fx.Node) -> tuple[int | str, ...]:
        return tuple("N" if str(d) == batch_symbol else int(d) for d in node.meta["val"].shape)

    steps = [Step("input", [], "input", shape_of(user_input))]
    step_of = {user_input.name: 0}  # graph node name -> step index
    own_steps: set[int] = set()  # steps of the module's own operations
    for node in graph.nodes:
        if node.op != "call_function" or not isinstance(node.meta.get("val"), torch.Tensor):
            continue  # placeholders, the output, checks and sizes
        fed_by = sorted({step_of[n.name] for n in node.all_input_nodes if n.name in step_of})
        if not fed_by:
            continue  # works only on parameters or constants
        stack = node.meta.get("nn_module_stack") or {}
        child = (list(stack.values())[-1][0] if stack else "").split(".")[0]
        operation = str(node.target).split(".")[1]  # "aten.add.Tensor" -> "add"
        if child:
            same = [i for i in fed_by if steps[i].name == child]
            if same:  # still inside the same submodule call
                step_of[node.name] = same[0]
                steps[same[0]].shape = shape_of(node)
                continue
            name, kind = child, _kind(children[child])
        elif operation in RESHAPES or (len(fed_by) == 1 and fed_by[0] in own_steps):
            step_of[node.name] = fed_by[-1]  # bookkeeping: a reshape, or the division after a sum
            continue
        else:
            name, kind = OWN_OPERATIONS.get(operation, (operation, operation))
            own_steps.add(len(steps))
        steps.append(Step(name, fed_by, kind, shape_of(node)))
        step_of[node.name] = len(steps) - 1
    output = next(n for n in graph.nodes if n.op == "output")
    last = [step_of[n.name] for n in output.all_input_nodes if n.name in step_of]
    steps.append(Step("output", last, "output", steps[last[0]].shape))
    return steps
