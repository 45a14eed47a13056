"""One epoch of augmented Fashion-MNIST batches: DeviceLoader vs torchvision's DataLoader.

    python benchmarks/loader_speed.py [--quick] [--device cpu|cuda]

Both produce the same augmentation (shift by up to 2 pixels with zero padding,
left-right flip, normalisation) in batches of 256 on the device; no model runs,
so the figure is the loading cost alone. Results go to
benchmarks/results/loader_speed.json with device, date and commit.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from results_record import write_results
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from se_tutorial.data import NORMALIZATION, Augmentation, DeviceLoader, load_dataset


class AugmentedImages(Dataset):
    """Per-sample torchvision transforms on uint8 image tensors, the usual pipeline."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        mean, std = NORMALIZATION["fashion-mnist"]
        self.images, self.labels = images, labels
        self.transform = v2.Compose(
            [
                v2.RandomCrop(28, padding=2),
                v2.RandomHorizontalFlip(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(mean, std),
            ]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.labels[index]


def epoch_seconds(batches, device: torch.device) -> float:
    start = time.perf_counter()
    for images, labels in batches:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5,000 images, for a smoke run")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "loader_speed.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    dataset = load_dataset("fashion-mnist")
    count = 5_000 if args.quick else len(dataset.train_labels)
    images, labels = dataset.train_images[:count], dataset.train_labels[:count]
    mean, std = NORMALIZATION["fashion-mnist"]

    device_loader = DeviceLoader(
        images, labels, 256, mean=mean, std=std, device=device, shuffle=True, augmentation=Augmentation()
    )
    results = {"device_loader": epoch_seconds(device_loader, device)}  # warm-up epoch excluded below
    results["device_loader"] = min(epoch_seconds(device_loader, device) for _ in range(3))
    for workers in (0, 2):
        loader = DataLoader(AugmentedImages(images, labels), batch_size=256, shuffle=True, num_workers=workers,
                            pin_memory=device.type == "cuda", persistent_workers=workers > 0)  # fmt: skip
        epoch_seconds(loader, device)
        results[f"torchvision_dataloader_{workers}_workers"] = min(
            epoch_seconds(loader, device) for _ in range(2)
        )

    for name, seconds in results.items():
        speedup = seconds / results["device_loader"]
        print(f"{name:<36}{seconds:8.3f} s/epoch   {speedup:6.1f}x the DeviceLoader's time")
    best_dataloader = min(v for k, v in results.items() if k != "device_loader")
    write_results(
        args.out, f"one epoch of {count} augmented Fashion-MNIST images, batch 256", device,
        seconds_per_epoch={k: round(v, 4) for k, v in results.items()},
        speedup_vs_best_dataloader=round(best_dataloader / results["device_loader"], 1),
    )  # fmt: skip


if __name__ == "__main__":
    main()
