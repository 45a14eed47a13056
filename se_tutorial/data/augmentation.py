"""Augmentation of whole batches on the device: random shifts, mirror images, random erasing."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Augmentation:
    """Batched, on-device augmentation of normalised images.

    Args:
        translate: shift by up to this many pixels each way (zero padding), like
            ``RandomCrop(size, padding=translate)``.
        flip: mirror half of the images left-right.
        erase: probability of blanking one random rectangle (``RandomErasing``);
            its side is between ``erase_scale`` of the image side.
    """

    translate: int = 2
    flip: bool = True
    erase: float = 0.0
    erase_scale: tuple[float, float] = (0.2, 0.5)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)``, random per image, drawn from ``generator``."""
        n, _, height, width = images.shape
        device = images.device
        if self.translate:
            t = self.translate
            padded = torch.nn.functional.pad(images, (t, t, t, t))
            dy = torch.randint(0, 2 * t + 1, (n, 1), device=device, generator=generator)
            dx = torch.randint(0, 2 * t + 1, (n, 1), device=device, generator=generator)
            rows = (dy + torch.arange(height, device=device))[:, None, :, None]  # (N, 1, H, 1)
            cols = (dx + torch.arange(width, device=device))[:, None, None, :]  # (N, 1, 1, W)
            batch = torch.arange(n, device=device)[:, None, None, None]
            channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
            images = padded[batch, channel, rows, cols]
        if self.flip:
            flipped = torch.rand(n, device=device, generator=generator) < 0.5
            images = torch.where(flipped[:, None, None, None], images.flip(3), images)
        if self.erase:
            low, high = self.erase_scale
            extent = torch.tensor([height, width], device=device)
            size = (torch.rand(n, 2, device=device, generator=generator) * (high - low) + low) * extent
            corner = torch.rand(n, 2, device=device, generator=generator) * (extent - size)
            rows = torch.arange(height, device=device)[None, :, None]
            cols = torch.arange(width, device=device)[None, None, :]
            inside = (
                (rows >= corner[:, 0, None, None])
                & (rows < (corner[:, 0] + size[:, 0])[:, None, None])
                & (cols >= corner[:, 1, None, None])
                & (cols < (corner[:, 1] + size[:, 1])[:, None, None])
            )
            chosen = torch.rand(n, device=device, generator=generator) < self.erase
            images = images.masked_fill((inside & chosen[:, None, None])[:, None], 0.0)
        return images
