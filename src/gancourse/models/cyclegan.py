"""CycleGAN's networks (Zhu et al. 2017), scaled for 28×28 and 32×32 grey images.

Generator (the paper's ResNet generator with fewer filters and blocks), width w:

    c7s1-w  : reflect-pad 3, conv 7×7 → w, IN, ReLU          C×H×W → w×H×W
    d2w, d4w: conv 3×3 stride 2 → 2w, 4w, IN, ReLU           → 4w×H/4×W/4
    R4w × n : residual blocks (conv 3×3, IN, ReLU, conv 3×3, IN)
    u2w, uw : transposed conv 3×3 stride 2 → 2w, w, IN, ReLU  → w×H×W
    c7s1-C  : reflect-pad 3, conv 7×7 → C, sigmoid            → C×H×W in [0, 1]  (the paper: tanh on [−1, 1])

Discriminator: a PatchGAN — C_w (4×4 stride 2, LeakyReLU 0.2, no norm), C_2w (stride 2, IN), C_4w (stride 1,
IN), conv 4×4 stride 1 → one score per overlapping patch (5×5 patches on a 28×28 image).
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.validation import check_count, check_dtype, check_images


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x)))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CycleGenerator(nn.Module):
    """A translator from one image domain to another; output in [0, 1] with the input's shape."""

    def __init__(self, channels: int = 1, width: int = 16, blocks: int = 3) -> None:
        super().__init__()
        check_count("width", width)
        check_count("blocks", blocks, minimum=0)
        w = width
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), nn.InstanceNorm2d(w), nn.ReLU(True),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.InstanceNorm2d(2 * w), nn.ReLU(True),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.InstanceNorm2d(4 * w), nn.ReLU(True),
            *[ResidualBlock(4 * w) for _ in range(blocks)],
            nn.ConvTranspose2d(4 * w, 2 * w, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(2 * w), nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, w, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(w), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Sigmoid(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        check_dtype(images, self)
        if images.shape[-1] % 4 or images.shape[-2] % 4:
            raise ValueError(f"the generator halves the image twice, so its sides must be multiples of 4; got "
                             f"shape {tuple(images.shape)}")
        return self.net(images)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake scores, one per overlapping patch of the input."""

    def __init__(self, channels: int = 1, width: int = 16) -> None:
        super().__init__()
        check_count("width", width)
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * w, 4 * w, 4, 1, 1), nn.InstanceNorm2d(4 * w), nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * w, 1, 4, 1, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        check_dtype(images, self)
        return self.net(images)
