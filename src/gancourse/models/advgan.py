"""The perturbation generator and the discriminator of AdvGAN (Xiao et al. 2018), as implementers describe
them, with an optional class condition (AI-GAN, Bai et al. 2021) and an optional class head on the
discriminator (AI-GAN's second branch).

Generator (28×28 or 32×32 inputs): c3s1-8, d16, d32, four residual blocks of 32, u16, u8, c3s1-C, instance
norm + ReLU after every layer but the last; the output is squashed to the ℓ∞ budget,

    G(x) = ε · tanh(g(x)),     so ‖G(x)‖∞ ≤ ε by construction.

A conditional generator takes the target class t as K extra constant input planes (one-hot).
Discriminator: C8-C16-C32 (4×4, stride 2, LeakyReLU 0.2, instance norm but on the first layer) → linear → one
real/fake score; with ``num_classes`` a second linear head gives class logits from the same features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.validation import check_class_indices, check_image_shape, check_linf_budget, check_model_input


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.InstanceNorm2d(out_channels, affine=True),
                         nn.ReLU(True))


class ResidualBlock(nn.Module):
    """x + conv-IN-ReLU-conv-IN(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.InstanceNorm2d(channels, affine=True),
                                  nn.ReLU(True), nn.Conv2d(channels, channels, 3, 1, 1),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PerturbationGenerator(nn.Module):
    """G(x) (or G(x, t) when ``num_classes`` > 0): a perturbation with ‖G‖∞ ≤ ``eps``, shaped like x."""

    def __init__(self, channels: int = 1, eps: float = 0.3, num_classes: int = 0) -> None:
        super().__init__()
        check_linf_budget("eps", eps, allow_zero=False)
        self.channels, self.eps, self.num_classes = channels, float(eps), num_classes
        self.net = nn.Sequential(
            _conv_block(channels + num_classes, 8, 1), _conv_block(8, 16, 2), _conv_block(16, 32, 2),
            *[ResidualBlock(32) for _ in range(4)],
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(16, affine=True), nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(8, affine=True), nn.ReLU(True),
            nn.Conv2d(8, channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"the perturbation generator takes N×{self.channels}×H×W images with H and W divisible "
                             f"by 4, got shape {tuple(x.shape)}")
        check_model_input(self, x, "the input of the perturbation generator")
        if self.num_classes:
            if target is None:
                raise ValueError("this generator is conditioned on the target class: call it as G(x, target)")
            check_class_indices(target, len(x), self.num_classes, "target")
            planes = F.one_hot(target, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1)
        elif target is not None:
            raise ValueError("this generator is not conditioned on a class; call it as G(x)")
        return self.eps * torch.tanh(self.net(x))


class PerturbationDiscriminator(nn.Module):
    """D(x) → a real/fake score per image; with ``num_classes``, :meth:`classify` gives class logits too."""

    def __init__(self, channels: int = 1, num_classes: int = 0, image_size: int = 28) -> None:
        super().__init__()
        self.image_shape = (channels, image_size, image_size)
        self.features = nn.Sequential(
            nn.Conv2d(channels, 8, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(8, 16, 4, 2, 1), nn.InstanceNorm2d(16, affine=True), nn.LeakyReLU(0.2, True),
            nn.Conv2d(16, 32, 4, 2, 1), nn.InstanceNorm2d(32, affine=True), nn.LeakyReLU(0.2, True),
            nn.Flatten(),
        )
        size = image_size // 8
        self.score = nn.Linear(32 * size * size, 1)
        self.classes = nn.Linear(32 * size * size, num_classes) if num_classes else None

    def _checked_features(self, x: torch.Tensor) -> torch.Tensor:
        check_image_shape(x, self.image_shape, "the AdvGAN discriminator")
        check_model_input(self, x, "the input of the AdvGAN discriminator")
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self._checked_features(x)).squeeze(1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits from the second branch (AI-GAN)."""
        if self.classes is None:
            raise ValueError("this discriminator has no class branch; build it with num_classes > 0")
        return self.classes(self._checked_features(x))
