"""Forward+backward time of three SE blocks on the same shapes, as ratios from one run.

    python benchmarks/se_block_speed.py [--quick] [--out benchmarks/results/se_block_speed.json]

Compares the package's ``SEBlock`` with the seed tutorial's block (kept verbatim
in ``seed_se_block.py``) and torchvision's ``SqueezeExcitation`` with the same
weights (biases zero). Implementations are timed in rotating order within each
round, and each figure is the median over rounds, so slow drifts of a shared
machine hit all three alike. The result is written with device, date and commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_record import write_results
from seed_se_block import SEBlock as SeedSEBlock

from se_tutorial import SEBlock

# (batch, channels, height, width): ResNet-20 stages on CIFAR, ResNet-50 stages on ImageNet.
SHAPES = [(128, 16, 32, 32), (128, 64, 8, 8), (32, 256, 56, 56), (32, 1024, 14, 14), (32, 2048, 7, 7)]


def build_blocks(channels: int) -> dict[str, torch.nn.Module]:
    ours = SEBlock(channels)
    seed = SeedSEBlock(channels)
    vision = torchvision.ops.SqueezeExcitation(channels, ours.hidden_channels)
    with torch.no_grad():
        seed.excitation[0].weight.copy_(ours.fc1.weight)
        seed.excitation[2].weight.copy_(ours.fc2.weight)
        vision.fc1.weight.copy_(ours.fc1.weight[:, :, None, None])
        vision.fc2.weight.copy_(ours.fc2.weight[:, :, None, None])
        vision.fc1.bias.zero_()
        vision.fc2.bias.zero_()
    return {"se_tutorial": ours, "seed": seed, "torchvision": vision}


def time_step(block: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor, iterations: int) -> float:
    """Seconds per forward+backward pass."""
    start = time.perf_counter()
    for _ in range(iterations):
        x.grad = None
        block(x).backward(grad)
    return (time.perf_counter() - start) / iterations


def measure(shape: tuple[int, ...], rounds: int, iterations: int) -> dict[str, float]:
    torch.manual_seed(0)
    blocks = build_blocks(shape[1])
    x = torch.randn(shape, requires_grad=True)
    grad = torch.randn(shape)
    outputs = [block(x) for block in blocks.values()]
    for out in outputs[1:]:  # same weights, so the same numbers
        torch.testing.assert_close(out, outputs[0], rtol=1e-5, atol=1e-5)
    names = list(blocks)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        time_step(blocks[name], x, grad, 2)  # warm-up
    for round_index in range(rounds):
        order = names[round_index % 3 :] + names[: round_index % 3]
        for name in order:
            samples[name].append(time_step(blocks[name], x, grad, iterations))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few rounds, small shapes only (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "se_block_speed.json")
    args = parser.parse_args()
    shapes = SHAPES[:2] if args.quick else SHAPES
    rounds, iterations = (3, 2) if args.quick else (15, 5)

    rows = []
    print(
        f"{'shape (N, C, H, W)':<24}{'se_tutorial ms':>16}{'seed ms':>10}{'tv ms':>10}"
        f"{'ours/seed':>11}{'ours/tv':>9}"
    )
    for shape in shapes:
        times = measure(shape, rounds, iterations)
        row = {
            "shape": list(shape),
            "ms": {name: round(seconds * 1e3, 4) for name, seconds in times.items()},
            "ratio_vs_seed": round(times["se_tutorial"] / times["seed"], 3),
            "ratio_vs_torchvision": round(times["se_tutorial"] / times["torchvision"], 3),
        }
        rows.append(row)
        print(
            f"{shape!s:<24}{row['ms']['se_tutorial']:>16.3f}{row['ms']['seed']:>10.3f}"
            f"{row['ms']['torchvision']:>10.3f}{row['ratio_vs_seed']:>11.3f}{row['ratio_vs_torchvision']:>9.3f}"
        )
    write_results(
        args.out, "SEBlock forward+backward, float32", "cpu",
        method=f"median of {rounds} rounds x {iterations} iterations, implementations in rotating order",
        rows=rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
