"""Toy distributions for GAN experiments that can be seen whole: a 1-D Gaussian and a ring of 2-D Gaussians,
with the mode-coverage metric of Metz et al. (2017, "Unrolled GANs"), and the ring GANs of chapters 01–02."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from gancourse.models.toy import MLPDiscriminator, MLPGenerator, SeedStack
from gancourse.train.gan import GANSetup, train_gan, wgan_critic_schedule
from gancourse.validation import check_positive


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
        counts, good = self._good_counts(samples, quality_stds)
        covered = int((counts >= 0.01 * len(samples)).sum())
        return covered, (torch.tensor(float(good)) / len(samples)).item()   # float32, as the mean of 0/1 flags

    def mode_shares(self, samples: torch.Tensor, quality_stds: float = 3.0) -> torch.Tensor:
        """Each mode's share of all the samples, counting only its high-quality ones (the :meth:`coverage` rule):
        share_k = #{i : nearest centre of x_i is k and ‖x_i − c_k‖ ≤ quality_stds · σ} / N. The shares sum to the
        share of high-quality samples; a mode is covered where its share is at least 0.01."""
        counts, _ = self._good_counts(samples, quality_stds)
        return counts.float() / len(samples)

    def _good_counts(self, samples: torch.Tensor, quality_stds: float) -> tuple[torch.Tensor, int]:
        """(high-quality samples per mode, high-quality samples in all) of an N×2 batch."""
        if samples.dim() != 2 or samples.shape[1] != 2 or len(samples) == 0:
            raise ValueError(f"samples must be N×2 with N ≥ 1, got shape {tuple(samples.shape)}")
        distances = torch.cdist(samples.detach().float().cpu(), self.centers())
        nearest_distance, nearest = distances.min(dim=1)
        good = nearest_distance <= quality_stds * self.std
        return torch.bincount(nearest[good], minlength=self.modes), int(good.sum())


def normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """The density of N(mean, std²):  exp(−(x − μ)² / 2σ²) / (σ √(2π))."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


RING_GAN_KINDS = ("GAN", "WGAN", "WGAN-GP")


def ring_gan_setup(kind: str, generator: nn.Module, critic: nn.Module, learning_rate: float | None = None) -> GANSetup:
    """Each paper's optimiser and loss for the ring experiments of chapters 01 and 02.

    GAN: non-saturating loss, Adam(1e-4, β = (0.5, 0.999)). WGAN: weight clipping at 0.01, RMSprop(5e-5),
    5 critic steps (100 for the first 25 generator steps and every 500th). WGAN-GP: Adam(1e-4, β = (0.5, 0.9)),
    5 critic steps, penalty weight λ = 0.1 (on 2-D toys a strong penalty can trap the critic; see chapter 02).
    ``learning_rate`` replaces the paper's learning rate for both networks (an experiment's one change).
    """
    if learning_rate is not None:
        check_positive("learning_rate", learning_rate)
    if kind == "GAN":
        def adam(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(m.parameters(), learning_rate or 1e-4, betas=(0.5, 0.999))
        return GANSetup(generator, critic, adam(generator), adam(critic), loss="non-saturating")
    if kind == "WGAN":
        def rmsprop(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.RMSprop(m.parameters(), lr=learning_rate or 5e-5)
        return GANSetup(generator, critic, rmsprop(generator), rmsprop(critic), loss="wasserstein",
                        d_steps=wgan_critic_schedule, weight_clip=0.01)
    if kind == "WGAN-GP":
        def adam_gp(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(m.parameters(), learning_rate or 1e-4, betas=(0.5, 0.9))
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


RING_PROBE_SAMPLES = 2_000
"""Samples drawn from each ring generator whenever it is measured."""


def train_ring_gans(ring: GaussianRing, kind: str, seeds: Sequence[int], steps: int, every: int,
                    sample_steps: tuple[int, ...] = (), batch_size: int = 256, learning_rate: float | None = None,
                    discriminator_hidden: int = 128) -> list[RingRun]:
    """Train one MLP GAN (3 hidden layers of 128 units in G, of ``discriminator_hidden`` in D) of ``kind`` per
    seed on ``ring`` for ``steps`` generator steps with the paper's optimiser (``learning_rate`` replacing its
    rate: :func:`ring_gan_setup`), measuring :meth:`GaussianRing.coverage` on 2,000 samples every ``every`` steps.

    Seed s's networks start as ``torch.manual_seed(s)`` builds them alone; the seeds then train together as
    one :class:`~gancourse.models.toy.SeedStack` (each its own batch of ``batch_size`` and its own exact
    gradients and optimiser steps), sharing one random stream for data and latents, seeded by the first seed:
    the same seeds in the same order give the same runs. Measuring draws from its own stream, so how often
    one measures does not change the training.
    """
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}")
    pairs = []
    for seed in seeds:
        torch.manual_seed(seed)
        pairs.append((MLPGenerator(2, 2, hidden=128, layers=3),
                      MLPDiscriminator(2, hidden=discriminator_hidden, layers=3)))
    generator, critic = SeedStack([g for g, _ in pairs]), SeedStack([d for _, d in pairs])
    curves: list[list[tuple[int, int, float]]] = [[] for _ in seeds]
    samples: list[dict[int, torch.Tensor]] = [{} for _ in seeds]
    probe = torch.Generator().manual_seed(seeds[0])

    def watch(step: int, stats: dict[str, float]) -> None:
        if step % every == 0 or step in sample_steps:
            with torch.no_grad():
                drawn = generator(torch.randn(len(seeds) * RING_PROBE_SAMPLES, 2, generator=probe))
            for index, points in enumerate(drawn.split(RING_PROBE_SAMPLES)):
                if step % every == 0:
                    curves[index].append((step, *ring.coverage(points)))
                if step in sample_steps:
                    samples[index][step] = points

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield ring.sample(len(seeds) * batch_size)

    torch.manual_seed(seeds[0])
    train_gan(ring_gan_setup(kind, generator, critic, learning_rate), batches(), steps, on_step=watch)
    return [RingRun(model, curve, drawn)
            for model, curve, drawn in zip(generator.unstack(), curves, samples, strict=True)]


def train_ring_gan(ring: GaussianRing, kind: str, seed: int, steps: int, every: int,
                   sample_steps: tuple[int, ...] = (), batch_size: int = 256, learning_rate: float | None = None,
                   discriminator_hidden: int = 128) -> RingRun:
    """:func:`train_ring_gans` for one seed."""
    return train_ring_gans(ring, kind, (seed,), steps, every, sample_steps, batch_size, learning_rate,
                           discriminator_hidden)[0]
