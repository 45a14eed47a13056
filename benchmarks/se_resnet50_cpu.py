"""SE-ResNet-50 from this package against timm's seresnet50 and torchvision's resnet50, on this CPU.

    python benchmarks/se_resnet50_cpu.py              # batch 8 and 32, 224x224
    python benchmarks/se_resnet50_cpu.py --smoke      # batch 2, 64x64, one round

For each batch size, each network runs a training step (forward, backward,
SGD) and an inference pass (eval mode, no gradients) on the same random
images, in channels-last float32. This package's network runs twice: with
its readable blocks, and with ``fuse_se`` (its SE tails as one autograd
function each, in float32 the compiled kernel of
:mod:`se_tutorial.nn.fused.cpu_kernel`, as ``fit`` trains on a CPU). Freed memory is kept for reuse
in the whole process, as ``fit`` does (it helps every network alike). Networks take turns within every round, so
a slow spell of a shared machine hits all of them alike; a network's time is
the median over rounds of its median pass. Reported as milliseconds and as
ratios to timm's seresnet50 (this package should not be slower) and to
torchvision's plain resnet50 (what SE costs). Results go to
benchmarks/results/se_resnet50_cpu.json.
"""

from __future__ import annotations

import argparse
import copy
from functools import partial
from pathlib import Path

import torch
from results_record import interleaved_seconds, write_results
from torch import nn

from se_tutorial import se_resnet50
from se_tutorial.nn.fused import fuse_se
from se_tutorial.utils.allocator import reuse_freed_memory

RESULTS = Path(__file__).parent / "results"


def networks() -> dict[str, nn.Module]:
    import timm
    import torchvision

    torch.manual_seed(0)
    ours = se_resnet50()
    return {
        "se_tutorial se_resnet50": ours,
        "se_tutorial se_resnet50, fused": fuse_se(copy.deepcopy(ours)),
        "timm seresnet50": timm.create_model("seresnet50", pretrained=False),
        "torchvision resnet50": torchvision.models.resnet50(),
    }


def training_pass(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, optimizer) -> None:
    model.train()
    loss = nn.functional.cross_entropy(model(images), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@torch.no_grad()
def inference_pass(model: nn.Module, images: torch.Tensor) -> None:
    model.eval()
    model(images)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    cli.add_argument("--size", type=int, default=224)
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument("--passes", type=int, default=2, help="timed passes per network, mode and round")
    cli.add_argument("--smoke", action="store_true")
    cli.add_argument("--out", type=Path, default=RESULTS / "se_resnet50_cpu.json")
    args = cli.parse_args()
    batches, size, rounds, passes = (
        ([2], 64, 1, 1) if args.smoke else (args.batches, args.size, args.rounds, args.passes)
    )

    reuse_freed_memory()
    models = {name: model.to(memory_format=torch.channels_last) for name, model in networks().items()}
    optimizers = {name: torch.optim.SGD(model.parameters(), lr=0.01) for name, model in models.items()}
    rows = {}
    for batch in batches:
        generator = torch.Generator().manual_seed(batch)
        images = torch.randn(batch, 3, size, size, generator=generator).contiguous(
            memory_format=torch.channels_last
        )
        labels = torch.randint(0, 1000, (batch,), generator=generator)
        passes_of = {
            "train": lambda name, x=images, y=labels: training_pass(models[name], x, y, optimizers[name]),
            "inference": lambda name, x=images: inference_pass(models[name], x),
        }
        for mode, one_pass in passes_of.items():
            for name in models:  # warm-up: allocations and kernel choice
                one_pass(name)
            seconds = interleaved_seconds({name: partial(one_pass, name) for name in models}, rounds, passes)
            ms = {name: 1000 * value for name, value in seconds.items()}
            row = {name: round(value, 1) for name, value in ms.items()}
            row["ours_vs_timm"] = round(ms["se_tutorial se_resnet50"] / ms["timm seresnet50"], 3)
            row["fused_vs_timm"] = round(ms["se_tutorial se_resnet50, fused"] / ms["timm seresnet50"], 3)
            row["se_cost_vs_resnet50"] = round(ms["se_tutorial se_resnet50"] / ms["torchvision resnet50"], 3)
            rows[f"batch {batch}, {mode}"] = row
            print(f"batch {batch:>3} {mode:<9}", row)
    write_results(
        args.out, f"SE-ResNet-50 on CPU, {size}x{size}, channels-last float32, ms per pass", "cpu",
        rounds=rounds, passes_per_round=passes, size=size, rows=rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
