"""The WGAN-GP generator and critic of the Defense-GAN paper's code (Samangouei et al. 2018), 28×28×1.

Generator:  z ∈ R^128 ~ N(0, I) → Linear → 256×4×4 (ReLU) → ConvT 5/2 → 128×8×8, cropped to 7×7 (ReLU)
            → ConvT 5/2 → 64×14×14 (ReLU) → ConvT 5/2 → 1×28×28 → Sigmoid
Critic:     Conv 5/2 → 64×14×14 → Conv 5/2 → 128×7×7 → Conv 5/2 → 256×4×4 (LeakyReLU 0.2 after each)
            → Linear → one score
No batch norm anywhere (batch norm would break the per-example gradient penalty of the critic).
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.validation import check_count, check_dtype, check_image_shape, check_latents, check_model_input


class WGANGPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 128) -> None:
        super().__init__()
        check_count("latent_dim", latent_dim)
        self.latent_dim = latent_dim
        self.project = nn.Sequential(nn.Linear(latent_dim, 4 * 4 * 256), nn.ReLU(True),
                                     nn.Unflatten(1, (256, 4, 4)))
        self.up1 = nn.Sequential(nn.ConvTranspose2d(256, 128, 5, 2, 2, output_padding=1), nn.ReLU(True))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1), nn.ReLU(True))
        self.up3 = nn.Sequential(nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim, "z")
        check_dtype(z, self, "z")
        x = self.up1(self.project(z))[:, :, :7, :7]   # 128×8×8 cropped to 128×7×7
        return self.up3(self.up2(x))                    # 64×14×14 → 1×28×28


class WGANGPCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.2, True),      # 64×14×14
            nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.2, True),    # 128×7×7
            nn.Conv2d(128, 256, 5, 2, 2), nn.LeakyReLU(0.2, True),   # 256×4×4
            nn.Flatten(), nn.Linear(256 * 4 * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_shape(x, (1, 28, 28), "the WGAN-GP critic")
        check_model_input(self, x, "the input of the WGAN-GP critic")
        return self.net(x).squeeze(1)
