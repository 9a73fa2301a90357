"""APE-GAN's networks (Shen et al. 2017 / Jin et al. 2019, arXiv 1707.05474), after the official code.

Generator APE-G, an encoder-decoder from an (adversarial) image to a clean reconstruction, for 28×28 or
32×32 inputs (kernel 4, stride 2, padding 1 halves or doubles the side exactly), width w:

    conv 4×4/2 → w, BN, LeakyReLU 0.2         C×H×W → w×H/2×W/2
    conv 4×4/2 → 2w, BN, LeakyReLU 0.2        → 2w×H/4×W/4
    deconv 4×4/2 → w, BN, ReLU                → w×H/2×W/2
    deconv 4×4/2 → C, sigmoid                 → C×H×W in [0, 1]   (the official code: tanh on [−1, 1])

Discriminator APE-D: conv 4×4/2 → w, LeakyReLU; conv 4×4/2 → 2w, BN, LeakyReLU; conv 4×4/2 → 4w, BN,
LeakyReLU; linear → one logit (clean vs not). The widths are this book's choice: w = 32 by default, where
w = 64 (a common choice for this layout) costs about four times as much per step on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.validation import check_count, check_dtype, check_images


def _check_side(model: nn.Module, images: torch.Tensor) -> None:
    check_images(images)
    check_dtype(images, model)
    if images.shape[-1] % 4 or images.shape[-2] % 4:
        raise ValueError(f"APE-GAN's encoder halves the image twice, so height and width must be multiples of 4; "
                         f"got shape {tuple(images.shape)} (28×28 and 32×32 work)")


class APEGenerator(nn.Module):
    """APE-G: reconstructs a clean image from a perturbed one; output in [0, 1], same shape as the input."""

    def __init__(self, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        check_count("width", width)
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_side(self, images)
        return self.net(images)


class APEDiscriminator(nn.Module):
    """APE-D: one logit per image, high for clean images, low for reconstructions."""

    def __init__(self, channels: int = 1, image_size: int = 28, width: int = 32) -> None:
        super().__init__()
        check_count("width", width)
        side = image_size
        for _ in range(3):
            side = (side + 2 - 4) // 2 + 1
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.BatchNorm2d(4 * width), nn.LeakyReLU(0.2, True),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width * side * side, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_side(self, images)
        return self.head(self.features(images)).squeeze(1)
