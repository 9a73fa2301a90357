"""DCGAN (Radford et al. 2016) for small images, optionally conditioned on a class label (cGAN).

Sizes for a 28×28 (MNIST-like) or 32×32 (CIFAR-like) image of C channels; s = H / 4 (7 or 8):

Generator:      z (+ one-hot y) → Linear → 2F×s×s (BN, ReLU) → ConvT 4/2 → F×2s×2s (BN, ReLU)
                → ConvT 4/2 → C×H×W → Sigmoid (images in [0, 1])
Discriminator:  x (+ y as one-hot planes) → Conv 4/2 → F×2s×2s (LeakyReLU 0.2) → Conv 4/2 → 2F×s×s
                (BN, LeakyReLU 0.2) → Linear → one logit

Weights start from N(0, 0.02) (batch-norm scales from N(1, 0.02)), as in the paper. The conditional
variant (Mirza & Osindero 2014) feeds the label to both networks: concatenated to z, and as
``num_classes`` constant planes stacked onto the image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.validation import (
    check_class_indices,
    check_count,
    check_dtype,
    check_image_shape,
    check_latents,
    check_model_input,
)


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions and linear layers, N(1, 0.02) for batch-norm scales, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _check_image_shape(image_shape: tuple[int, int, int]) -> int:
    channels, height, width = image_shape
    if height != width or height % 4 or channels not in (1, 3):
        raise ValueError(f"DCGAN here supports C×H×H images with C in (1, 3) and H divisible by 4, got {image_shape}")
    return height // 4


class DCGANGenerator(nn.Module):
    """G(z) or, with ``num_classes``, G(z, y). Outputs images in [0, 1]."""

    def __init__(self, latent_dim: int = 100, image_shape: tuple[int, int, int] = (1, 28, 28),
                 features: int = 64, num_classes: int = 0) -> None:
        super().__init__()
        check_count("latent_dim", latent_dim)
        check_count("features", features)
        check_count("num_classes", num_classes, minimum=0)
        self.latent_dim, self.num_classes, self.image_shape = latent_dim, num_classes, image_shape
        side = _check_image_shape(image_shape)
        self.project = nn.Sequential(
            nn.Linear(latent_dim + num_classes, 2 * features * side * side, bias=False),
            nn.Unflatten(1, (2 * features, side, side)),
            nn.BatchNorm2d(2 * features), nn.ReLU(True),                          # 2F × s × s
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * features, features, 4, 2, 1, bias=False),
            nn.BatchNorm2d(features), nn.ReLU(True),                              # F × 2s × 2s
            nn.ConvTranspose2d(features, image_shape[0], 4, 2, 1),
            nn.Sigmoid(),                                                         # C × 4s × 4s
        )
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_latents(z, self.latent_dim, "z")
        check_dtype(z, self, "z")
        if self.num_classes:
            if labels is None:
                raise ValueError("this generator is conditional: call it as G(z, labels)")
            check_class_indices(labels, len(z), self.num_classes)
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.upsample(self.project(z))


class DCGANDiscriminator(nn.Module):
    """D(x) or, with ``num_classes``, D(x, y): one logit per image (no sigmoid)."""

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), features: int = 64,
                 num_classes: int = 0, batch_norm: bool = True) -> None:
        super().__init__()
        check_count("features", features)
        check_count("num_classes", num_classes, minimum=0)
        self.num_classes, self.image_shape = num_classes, image_shape
        side = _check_image_shape(image_shape)
        self.net = nn.Sequential(
            nn.Conv2d(image_shape[0] + num_classes, features, 4, 2, 1),
            nn.LeakyReLU(0.2, True),                                              # F × 2s × 2s
            nn.Conv2d(features, 2 * features, 4, 2, 1, bias=not batch_norm),
            nn.BatchNorm2d(2 * features) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2, True),                                              # 2F × s × s
            nn.Flatten(),
            nn.Linear(2 * features * side * side, 1),
        )
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_image_shape(x, self.image_shape, "the DCGAN discriminator")
        check_model_input(self, x, "the input of the DCGAN discriminator")
        if self.num_classes:
            if labels is None:
                raise ValueError("this discriminator is conditional: call it as D(x, labels)")
            check_class_indices(labels, len(x), self.num_classes)
            planes = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1)
        return self.net(x).squeeze(1)
