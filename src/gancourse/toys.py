"""Toy distributions for GAN experiments that can be seen whole: a 1-D Gaussian and a ring of 2-D Gaussians,
with the mode-coverage metric of Metz et al. (2017, "Unrolled GANs")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianRing:
    """``modes`` Gaussians of standard deviation ``std`` evenly spaced on a circle of ``radius``."""

    modes: int = 8
    radius: float = 2.0
    std: float = 0.02

    def __post_init__(self) -> None:
        if self.modes < 1 or self.radius <= 0 or self.std <= 0:
            raise ValueError(f"a ring needs modes ≥ 1, radius > 0 and std > 0, got {self}")

    def centers(self) -> torch.Tensor:
        """The modes' centres, ``modes × 2``."""
        angles = torch.arange(self.modes, dtype=torch.float32) * (2 * math.pi / self.modes)
        return self.radius * torch.stack([angles.cos(), angles.sin()], dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points (n × 2) and the index of the mode each was drawn from."""
        modes = torch.randint(0, self.modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator) * self.std
        return self.centers()[modes] + noise, modes

    def coverage(self, samples: torch.Tensor, quality_stds: float = 3.0) -> tuple[int, float]:
        """(modes covered, share of high-quality samples).

        A sample is *high quality* if it lies within ``quality_stds`` standard deviations of its nearest
        centre; a mode is *covered* if at least 1% of the samples are high-quality samples of that mode
        (Metz et al. 2017 use 3σ with σ = 0.02 on this very ring).
        """
        if samples.dim() != 2 or samples.shape[1] != 2:
            raise ValueError(f"samples must be N×2, got shape {tuple(samples.shape)}")
        distances = torch.cdist(samples.detach().float().cpu(), self.centers())
        nearest_distance, nearest = distances.min(dim=1)
        good = nearest_distance <= quality_stds * self.std
        counts = torch.bincount(nearest[good], minlength=self.modes)
        covered = int((counts >= 0.01 * len(samples)).sum())
        return covered, good.float().mean().item()
