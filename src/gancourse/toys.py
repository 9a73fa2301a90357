"""Toy distributions for GAN experiments that can be seen whole: a 1-D Gaussian and a ring of 2-D Gaussians,
with the mode-coverage metric of Metz et al. (2017, "Unrolled GANs"), and the ring GANs of chapters 01–02."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from gancourse.models.toy import MLPDiscriminator, MLPGenerator
from gancourse.train.gan import GANSetup, train_gan, wgan_critic_schedule


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


def normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """The density of N(mean, std²):  exp(−(x − μ)² / 2σ²) / (σ √(2π))."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


RING_GAN_KINDS = ("GAN", "WGAN", "WGAN-GP")


def ring_gan_setup(kind: str, generator: nn.Module, critic: nn.Module) -> GANSetup:
    """Each paper's optimiser and loss for the ring experiments of chapters 01 and 02.

    GAN: non-saturating loss, Adam(1e-4, β = (0.5, 0.999)). WGAN: weight clipping at 0.01, RMSprop(5e-5),
    5 critic steps (100 for the first 25 generator steps and every 500th). WGAN-GP: Adam(1e-4, β = (0.5, 0.9)),
    5 critic steps, penalty weight λ = 0.1 (on 2-D toys a strong penalty can trap the critic; see chapter 02).
    """
    if kind == "GAN":
        def adam(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(m.parameters(), 1e-4, betas=(0.5, 0.999))
        return GANSetup(generator, critic, adam(generator), adam(critic), loss="non-saturating")
    if kind == "WGAN":
        def rmsprop(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.RMSprop(m.parameters(), lr=5e-5)
        return GANSetup(generator, critic, rmsprop(generator), rmsprop(critic), loss="wasserstein",
                        d_steps=wgan_critic_schedule, weight_clip=0.01)
    if kind == "WGAN-GP":
        def adam_gp(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(m.parameters(), 1e-4, betas=(0.5, 0.9))
        return GANSetup(generator, critic, adam_gp(generator), adam_gp(critic), loss="wasserstein",
                        d_steps=5, gradient_penalty_weight=0.1)
    raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(RING_GAN_KINDS)}")


@dataclass
class RingRun:
    """A ring GAN after training: its generator, (step, modes covered, good share) every ``every`` steps,
    and 2,000 samples at each requested step."""

    generator: nn.Module
    curve: list[tuple[int, int, float]]
    samples: dict[int, torch.Tensor]


def train_ring_gan(ring: GaussianRing, kind: str, seed: int, steps: int, every: int,
                   sample_steps: tuple[int, ...] = (), batch_size: int = 256) -> RingRun:
    """Train an MLP GAN (3 hidden layers of 128 units in G and D) of ``kind`` on ``ring`` for ``steps``
    generator steps, measuring :meth:`GaussianRing.coverage` on 2,000 samples every ``every`` steps."""
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    torch.manual_seed(seed)
    generator, critic = MLPGenerator(2, 2, hidden=128, layers=3), MLPDiscriminator(2, hidden=128, layers=3)
    run = RingRun(generator, [], {})

    def watch(step: int, stats: dict[str, float]) -> None:
        if step % every == 0 or step in sample_steps:
            with torch.no_grad():
                samples = generator(torch.randn(2000, 2))
            if step % every == 0:
                run.curve.append((step, *ring.coverage(samples)))
            if step in sample_steps:
                run.samples[step] = samples

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield ring.sample(batch_size)

    train_gan(ring_gan_setup(kind, generator, critic), batches(), steps, on_step=watch)
    return run
