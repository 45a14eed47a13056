"""Data-flow diagrams of residual blocks, traced from the module itself.

The diagram is not drawn by hand: :func:`block_dataflow` exports the block
with ``torch.export`` and groups the traced operations by the submodule that
ran them, so the picture changes whenever the code does (a new placement, a
new attention module) and can never disagree with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .se_block import SEBlock


@dataclass
class Step:
    """One box of the diagram: a direct submodule call, or the residual addition ``"+"``."""

    name: str  #: submodule name (``"conv1"``, ``"attention"``, ...), ``"+"``, ``"input"`` or ``"output"``
    inputs: list[int]  #: indices of the steps that feed it
    label: str  #: text shown in the box


def _kind(module: nn.Module) -> str:
    """What a submodule does, in a few words: ``"3x3 conv, stride 2"``, ``"BN"``, ``"SE, r=16"``."""
    if isinstance(module, nn.Conv2d):
        k, s = module.kernel_size[0], module.stride[0]
        return f"{k}x{k} conv" + (f", stride {s}" if s > 1 else "")
    if isinstance(module, nn.Sequential):
        return " + ".join(_kind(m) for m in module)
    if isinstance(module, SEBlock):
        return f"SE, r={module.reduction_ratio}"
    if isinstance(module, nn.BatchNorm2d):
        return "BN"
    return type(module).__name__


def _describe(module: nn.Module | None, name: str) -> str:
    return f"{name}: {_kind(module)}" if module is not None else name


def block_dataflow(block: nn.Module, example: torch.Tensor) -> list[Step]:
    """The block's forward pass as steps in execution order, from ``torch.export``.

    ``example`` is an input of the block's shape ``(N, C, H, W)``; the block is
    traced in eval mode and left in the mode it was in.
    """
    was_training = block.training
    block.eval()
    try:
        graph = torch.export.export(block, (example,)).graph
    finally:
        block.train(was_training)
    children = dict(block.named_children())
    steps = [Step("input", [], "input")]
    step_of: dict[str, int] = {}  # graph node name -> step index
    user_input = next(n for n in graph.nodes if n.op == "placeholder" and n.name == "x")
    step_of[user_input.name] = 0
    for node in graph.nodes:
        if node.op != "call_function" or not node.users:
            continue
        fed_by = [step_of[n.name] for n in node.all_input_nodes if n.name in step_of]
        if not fed_by:
            continue  # works only on parameters or constants
        stack = node.meta.get("nn_module_stack") or {}
        path = list(stack.values())[-1][0] if stack else ""
        child = path.split(".")[0]
        name = child if child else "+"
        if name == "+" and "add" not in str(node.target):
            continue  # shape checks and other bookkeeping of the block itself
        same = [i for i in fed_by if steps[i].name == name]
        if same and name != "+":
            step_of[node.name] = same[0]  # still inside the same submodule call
            continue
        steps.append(Step(name, sorted(set(fed_by)), _describe(children.get(child), name)))
        step_of[node.name] = len(steps) - 1
    output = next(n for n in graph.nodes if n.op == "output")
    last = [step_of[n.name] for n in output.all_input_nodes if n.name in step_of]
    steps.append(Step("output", last, "output"))
    return steps


def _ancestors(steps: list[Step], index: int) -> set[int]:
    found: set[int] = set()
    stack = list(steps[index].inputs)
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(steps[current].inputs)
    return found


def draw_block(block: nn.Module, example: torch.Tensor, ax=None, title: str | None = None):
    """Draw :func:`block_dataflow` as boxes and arrows: residual branch left, shortcut right."""
    import matplotlib.pyplot as plt

    steps = block_dataflow(block, example)
    lane = [0] * len(steps)  # 0: input, residual branch, merge; 1: shortcut
    for step in steps:
        if step.name != "+":
            continue
        for source in step.inputs:
            ancestors = _ancestors(steps, source) | {source}
            if not any(steps[a].name == "conv1" for a in ancestors):  # this input is the shortcut
                branch = set().union(*(_ancestors(steps, s) | {s} for s in step.inputs if s != source))
                for a in ancestors - branch:
                    lane[a] = 1
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 0.62 * len(steps) + 0.4))
    position = [(lane[i] * 2.2, -i) for i in range(len(steps))]
    colors = {"attention": "#f6c667", "+": "#cfe8cf", "shortcut": "#cfd8f0"}
    for index, step in enumerate(steps):
        x, y = position[index]
        ax.text(x, y, step.label, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round,pad=0.35", "fc": colors.get(step.name, "#eeeeee"), "ec": "#555555"})  # fmt: skip
        for source in step.inputs:
            ax.annotate("", xy=(x, y + 0.28), xytext=(position[source][0], position[source][1] - 0.28),
                        arrowprops={"arrowstyle": "->", "color": "#444444",
                                    "connectionstyle": "arc3,rad=0.0" if lane[source] == lane[index] else "arc3,rad=-0.2"})  # fmt: skip
    ax.set_xlim(-1.6, 3.8)
    ax.set_ylim(-len(steps) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(
        title or f"{type(block).__name__} (placement={getattr(block, 'placement', '?')})", fontsize=10
    )
    return ax.figure
