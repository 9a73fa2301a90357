"""Defense-GAN (Samangouei et al. 2018): classify the generator's closest image instead of the input.

Projection onto the range of a generator G: for each image x, from R random starts z⁰ ~ N(0, σ²I)
(σ² = 1/128 in the paper), run L steps of gradient descent with momentum on the per-image error

    e(z) = ‖G(z) − x‖₂² / d        (d = pixels per image)

    v ← μ·v + ∇_z e(z),   z ← z − η_k·v,     η_k = η for k < ⌊0.8·L⌋, then η/10 (once, not compounded)

and keep, **for each image separately**, the restart with the smallest final error:
z* = argmin_r e(z_r^L). The classifier then sees G(z*), and e(z*) serves as a detection score
(adversarial inputs tend to lie farther from the range). Paper defaults: L = 200, R = 10, η = 10, μ = 0.7.

All images × restarts are projected as one batch (chunked to bound memory); every latent's gradient is
its own because the summed error of independent rows is differentiated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from gancourse.defenses.base import Preprocessor, ThresholdDetector
from gancourse.networks import frozen_eval, model_device
from gancourse.validation import check_count, check_images, check_positive

PAPER_STEPS, PAPER_RESTARTS = 200, 10
"""The Defense-GAN paper's projection: L = 200 gradient steps from each of R = 10 random starts."""


@dataclass(frozen=True)
class Projection:
    """The result of projecting N images: G(z*) (N×C×H×W), z* (N×latent), e(z*) (N), and every restart's
    final latent (N×R×latent) and error (N×R)."""

    reconstructions: torch.Tensor
    latents: torch.Tensor
    errors: torch.Tensor
    restart_latents: torch.Tensor
    restart_errors: torch.Tensor


def step_size(step: int, steps: int, lr: float, decay_at: float = 0.8) -> float:
    """η_k: ``lr`` before step ⌊decay_at·steps⌋, ``lr / 10`` from then on."""
    return lr if step < int(decay_at * steps) else lr * 0.1


def initial_latents(count: int, restarts: int, latent_dim: int, variance: float = 1 / 128,
                    generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Random starts z⁰ ~ N(0, variance·I), shaped N×R×latent_dim."""
    noise = torch.randn(count, restarts, latent_dim, generator=generator)
    return (noise * variance ** 0.5).to(device)


def project(generator: nn.Module, images: torch.Tensor, starts: torch.Tensor, *, steps: int = PAPER_STEPS,
            lr: float = 10.0, momentum: float = 0.7, decay_at: float = 0.8, chunk: int = 256,
            step_sizes: Sequence[float] | None = None) -> Projection:
    """Project ``images`` onto G's range from the given random ``starts`` (N×R×latent; see
    :func:`initial_latents`), with the schedule of the module docstring. ``chunk`` images (× R latents) are
    optimised at once. The generator runs frozen in eval mode; its state is restored.

    ``step_sizes`` replaces the schedule by explicit η_0 … η_{L−1} (one per step; ``lr`` and ``decay_at`` are
    then unused), to study other schedules: the exercise checker names a compounded decay this way."""
    check_images(images)
    if starts.dim() != 3 or len(starts) != len(images):
        raise ValueError(f"starts must be N×R×latent with N = {len(images)} images, got shape {tuple(starts.shape)}")
    check_count("steps", steps)
    check_positive("lr", lr)
    check_positive("momentum", momentum, allow_zero=True)
    check_count("chunk", chunk)
    if not 0 < decay_at <= 1:
        raise ValueError(f"decay_at must be in (0, 1], got {decay_at}")
    if step_sizes is None:
        step_sizes = [step_size(step, steps, lr, decay_at) for step in range(steps)]
    elif len(step_sizes) != steps:
        raise ValueError(f"step_sizes must hold one step size per step: {steps}, got {len(step_sizes)}")
    device = model_device(generator)
    parts = []
    with frozen_eval(generator):
        for start in range(0, len(images), chunk):
            parts.append(_project_chunk(generator, images[start:start + chunk].to(device),
                                        starts[start:start + chunk].to(device), step_sizes, momentum))
    reconstructions, latents, errors, restart_latents, restart_errors = (
        torch.cat(column) for column in zip(*parts, strict=True))
    return Projection(reconstructions.to(images.device), latents, errors, restart_latents, restart_errors)


def fewer_restarts(generator: nn.Module, projection: Projection, restarts: int) -> Projection:
    """The projection that only the first ``restarts`` of ``projection``'s restarts would have given:
    restarts are independent, so z* = argmin over r < ``restarts`` of e(z_r^L), per image, without redoing
    any step (used to tabulate accuracy against R from one run with the largest R)."""
    available = projection.restart_errors.shape[1]
    check_count("restarts", restarts)
    if restarts > available:
        raise ValueError(f"the projection has {available} restarts; cannot keep the first {restarts}")
    errors = projection.restart_errors[:, :restarts]
    best = errors.argmin(1)
    latents = projection.restart_latents[torch.arange(len(best)), best]
    with torch.no_grad(), frozen_eval(generator):
        reconstructions = generator(latents.to(model_device(generator))).to(projection.reconstructions.device)
    return Projection(reconstructions, latents, errors.gather(1, best[:, None]).squeeze(1),
                      projection.restart_latents[:, :restarts], errors)


def _project_chunk(generator: nn.Module, images: torch.Tensor, starts: torch.Tensor, step_sizes: Sequence[float],
                   momentum: float) -> tuple[torch.Tensor, ...]:
    n, restarts, latent_dim = starts.shape
    targets = images.repeat_interleave(restarts, dim=0)                 # image i for rows i·R … i·R + R − 1
    z = starts.reshape(n * restarts, latent_dim).clone()
    velocity = torch.zeros_like(z)

    def errors_of(latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        generated = generator(latents)
        if generated.shape[1:] != images.shape[1:]:
            raise ValueError(f"the generator makes {tuple(generated.shape[1:])} images, the inputs are "
                             f"{tuple(images.shape[1:])}")
        return generated, (generated - targets).flatten(1).pow(2).mean(1)

    for rate in step_sizes:
        with torch.enable_grad():          # the defense may be called under torch.no_grad (e.g. by predict)
            z.requires_grad_(True)
            _, errors = errors_of(z)
            gradient, = torch.autograd.grad(errors.sum(), z)
        with torch.no_grad():
            velocity = momentum * velocity + gradient
            z = z - rate * velocity
    with torch.no_grad():
        generated, errors = errors_of(z)
    restart_errors = errors.view(n, restarts)
    best = restart_errors.argmin(1)                                      # per image, not per batch
    rows = torch.arange(n, device=z.device) * restarts + best
    return (generated[rows], z[rows], restart_errors.gather(1, best[:, None]).squeeze(1),
            z.view(n, restarts, latent_dim), restart_errors)


class DefenseGAN(Preprocessor, ThresholdDetector):
    """The Defense-GAN preprocessor: ``forward(x)`` returns G(z*), so ``classifier(defense(x))`` is the
    defended model; :meth:`project` also gives z* and the errors. It is not ``differentiable`` (the gradient
    of L descent steps is useless and costly): attack ``nn.Sequential(defense.attackable(), classifier)``,
    which uses BPDA. As a :class:`~gancourse.defenses.base.ThresholdDetector` its scores are the
    reconstruction errors e(z*) (the paper's detector).

    Args:
        generator: G, mapping N×latent_dim to images like the inputs (the chapter 02 WGAN-GP generator); the
            inputs' shape is checked against G's images when a projection starts.
        latent_dim: size of z.
        steps, restarts, lr, momentum, decay_at: L, R, η, μ and the decay point (paper: 200, 10, 10, 0.7, 0.8).
        variance: of the random starts (paper: 1/128).
        chunk: images projected at once.
        seed: seeds the random starts of every call (None: the global RNG), so a call is repeatable.
        threshold: τ ≥ 0 on e(z*) (NaN is refused); +∞, the default, turns the detector off until
            :meth:`calibrate` sets τ.
    """

    differentiable = False
    score_floor = 0.0

    def __init__(self, generator: nn.Module, latent_dim: int, steps: int = PAPER_STEPS, restarts: int = PAPER_RESTARTS,
                 lr: float = 10.0, momentum: float = 0.7, decay_at: float = 0.8, variance: float = 1 / 128,
                 chunk: int = 256, seed: int | None = 0, threshold: float = float("inf")) -> None:
        super().__init__(None)
        check_count("latent_dim", latent_dim)
        check_count("steps", steps)
        check_count("restarts", restarts)
        check_positive("variance", variance)
        self.generator = generator
        self.latent_dim, self.steps, self.restarts = latent_dim, steps, restarts
        self.lr, self.momentum, self.decay_at, self.variance = lr, momentum, decay_at, variance
        self.chunk, self.seed = chunk, seed
        self.threshold = threshold

    @property
    def randomised(self) -> bool:
        """True without a seed: every call draws fresh random starts (the paper's defense)."""
        return self.seed is None

    def project(self, images: torch.Tensor) -> Projection:
        """Project ``images`` (N×C×H×W in [0, 1]) with this defense's settings."""
        random = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        starts = initial_latents(len(images), self.restarts, self.latent_dim, self.variance, random)
        return project(self.generator, images, starts, steps=self.steps, lr=self.lr, momentum=self.momentum,
                       decay_at=self.decay_at, chunk=self.chunk)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(images).reconstructions

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        """The detection scores: e(z*) = ‖G(z*) − x‖₂² / d per image, on the images' device."""
        return self.project(images).errors.to(images.device)


class TangentBPDA(nn.Module):
    """BPDA for Defense-GAN in the generator's tangent space: the forward pass is the defense's own,
    x̂ = G(z*(x)), and the backward pass replaces the projection's Jacobian by

        ∂x̂/∂x := J Jᵀ,      J = ∂G/∂z at z*,

the Gauss–Newton derivative of an exact projection onto the range of G, J (JᵀJ)⁻¹ Jᵀ (the projector onto
    the tangent space at G(z*); exact only for images on the range), without the metric (JᵀJ)⁻¹, which would
    cost a full Jacobian per image. An attacker's gradient g on x̂ thus becomes J Jᵀ g: the latent gradient
    Jᵀ g mapped back through G — only tangent directions, but weighted by J's squared singular values, so J Jᵀ
    is not itself a projector. The identity BPDA (:class:`gancourse.attacks.bpda.BPDA`) also keeps the
    normal part, which the projection removes. Implemented with one vector–Jacobian product taken as a function of
    x, u(x) = Jᵀ (x − x̂): z(x) = z* + u(x) − stopgrad(u(x)) equals z* and has the gradient Jᵀ, so the output
    x̂ + G(z(x)) − stopgrad(G(z(x))) has the value x̂ and the gradient J Jᵀ.

    Args:
        preprocessor: the :class:`DefenseGAN` whose projection (and randomness) the forward pass uses.
    """

    def __init__(self, preprocessor: DefenseGAN) -> None:
        super().__init__()
        if not isinstance(preprocessor, DefenseGAN):
            raise TypeError(f"TangentBPDA needs a DefenseGAN (it reads z* and G), got {type(preprocessor).__name__}")
        self.preprocessor = preprocessor

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            projection = self.preprocessor.project(images)
        if not torch.is_grad_enabled():
            return projection.reconstructions.to(images.device)
        generator = self.preprocessor.generator
        reconstructions = projection.reconstructions.to(images.device)
        latents = projection.latents.to(images.device).detach().requires_grad_(True)
        along, = torch.autograd.grad(generator(latents), latents, grad_outputs=images - reconstructions,
                                     create_graph=True)                        # Jᵀ (x − x̂), linear in x
        moved = generator(latents.detach() + along - along.detach())       # G at z*, gradient J Jᵀ
        return reconstructions + (moved - moved.detach())
