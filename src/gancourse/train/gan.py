"""One GAN training loop with pluggable losses (minimax, non-saturating, Wasserstein, LSGAN, hinge),
optional gradient penalty or weight clipping, conditional models, progress bars and resumption.

Each iteration follows the procedure of the book's chapter 01:

1. ``d_steps`` discriminator (critic) updates: score a real batch and a generated batch, minimise the
   discriminator loss (+ the gradient penalty), clip the weights if asked;
2. one generator update: generate, score, minimise the generator loss through D, leaving D unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from gancourse.checkpoints import ProgressFile
from gancourse.losses import AdversarialLoss, adversarial_loss, clip_weights, gradient_penalty
from gancourse.train.loop import History, Part, TrainingRun, save_progress
from gancourse.validation import check_count, check_positive

Batch = tuple[torch.Tensor, torch.Tensor]

def wgan_critic_schedule(step: int) -> int:
    """WGAN's critic steps per generator step: 100 for the first 25 generator steps and every 500th,
    else 5 (Arjovsky et al. 2017, reference code)."""
    return 100 if step < 25 or step % 500 == 0 else 5


class Snapshots(nn.Module):
    """Samples of a fixed latent batch taken at chosen generator steps, kept as buffers (so they travel in a
    checkpoint's state dict): ``images[k]`` is G(z_fixed) after ``steps[k]`` generator updates."""

    def __init__(self, steps: list[int], latents: torch.Tensor, image_shape: tuple[int, ...],
                 labels: torch.Tensor | None = None) -> None:
        super().__init__()
        if sorted(set(steps)) != list(steps) or not steps or steps[0] < 0:
            raise ValueError(f"snapshot steps must be distinct, non-negative and increasing, got {steps}")
        self.register_buffer("steps", torch.tensor(steps))
        self.register_buffer("latents", latents.clone())
        self.register_buffer("labels", labels.clone() if labels is not None else torch.zeros(len(latents)).long())
        self.register_buffer("images", torch.zeros(len(steps), len(latents), *image_shape))
        self.register_buffer("taken", torch.zeros(len(steps), dtype=torch.bool))

    @classmethod
    def drawn(cls, steps: list[int], count: int, latent_dim: int, image_shape: tuple[int, ...], classes: int = 0,
              seed: int = 0) -> Snapshots:
        """Snapshots of ``count`` latents z ~ N(0, I) drawn with ``seed`` (labels cycling through ``classes``
        for a conditional generator): every argument is a plain value, so a recipe's config can record it."""
        latents = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))
        return cls(steps, latents, image_shape, torch.arange(count) % classes if classes else None)

    @torch.no_grad()
    def take(self, step: int, generator: nn.Module, conditional: bool) -> None:
        """Record G(z_fixed) if ``step`` is one of the snapshot steps (G is used in eval mode, then restored)."""
        matches = (self.steps == step).nonzero()
        if len(matches) == 0:
            return
        index = int(matches[0])
        was_training = generator.training
        generator.eval()
        self.images[index] = _call(generator, self.latents, self.labels, conditional).reshape(self.images[index].shape)
        self.taken[index] = True
        generator.train(was_training)


@dataclass
class GANSetup:
    """What the loop trains and how. ``d_steps`` is a number or a function of the generator step."""

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    loss: AdversarialLoss | str = "non-saturating"
    d_steps: int | Callable[[int], int] = 1
    gradient_penalty_weight: float = 0.0
    weight_clip: float | None = None
    conditional: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.loss, str):
            self.loss = adversarial_loss(self.loss)
        check_positive("gradient_penalty_weight", self.gradient_penalty_weight, allow_zero=True)
        if self.weight_clip is not None:
            check_positive("weight_clip", self.weight_clip)
        if not callable(self.d_steps):
            check_count("d_steps", self.d_steps)
        if not hasattr(self.generator, "latent_dim"):
            raise TypeError("the generator needs a `latent_dim` attribute (the size of z)")

    def steps_for(self, step: int) -> int:
        steps = self.d_steps(step) if callable(self.d_steps) else self.d_steps
        if steps < 1:
            raise ValueError(f"d_steps must be at least 1, got {steps} at step {step}")
        return steps


def _call(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, conditional: bool) -> torch.Tensor:
    return model(x, labels) if conditional else model(x)


def gradient_norm(module: nn.Module) -> float:
    """‖∇θ‖₂ over all parameters of ``module`` that have a gradient."""
    squares = [p.grad.detach().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return math.sqrt(float(torch.stack(squares).sum())) if squares else 0.0


def discriminator_step(setup: GANSetup, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """One update of D (or the critic) on a real batch and a freshly generated batch."""
    G, D, loss = setup.generator, setup.discriminator, setup.loss
    z = torch.randn(len(real), G.latent_dim, device=real.device)
    with torch.no_grad():
        fake = _call(G, z, labels, setup.conditional)
    real_out = _call(D, real, labels, setup.conditional)
    fake_out = _call(D, fake, labels, setup.conditional)
    d_loss = loss.discriminator(real_out, fake_out)
    total = d_loss
    if setup.gradient_penalty_weight > 0:
        total = total + gradient_penalty(lambda x: _call(D, x, labels, setup.conditional), real, fake,
                                         setup.gradient_penalty_weight)
    setup.d_optimizer.zero_grad(set_to_none=True)
    total.backward()
    setup.d_optimizer.step()
    if setup.weight_clip is not None:
        clip_weights(D, setup.weight_clip)
    stats = {"d_loss": d_loss.item(), "d_total_loss": total.item(),
             "real_score": real_out.mean().item(), "fake_score": fake_out.mean().item()}
    if loss.outputs_probability_logits:
        stats["d_accuracy"] = 0.5 * ((real_out > 0).float().mean() + (fake_out < 0).float().mean()).item()
    else:
        stats["wasserstein_estimate"] = stats["real_score"] - stats["fake_score"]
    return stats


def generator_step(setup: GANSetup, batch_size: int, labels: torch.Tensor, device: torch.device) -> dict[str, float]:
    """One update of G through D; D's weights are not changed (only G's optimiser steps)."""
    G, D = setup.generator, setup.discriminator
    z = torch.randn(batch_size, G.latent_dim, device=device)
    fake_out = _call(D, _call(G, z, labels, setup.conditional), labels, setup.conditional)
    g_loss = setup.loss.generator(fake_out)
    setup.g_optimizer.zero_grad(set_to_none=True)
    g_loss.backward()
    norm = gradient_norm(G)
    setup.g_optimizer.step()
    setup.d_optimizer.zero_grad(set_to_none=True)  # G's backward pass left gradients in D; drop them
    return {"g_loss": g_loss.item(), "g_grad_norm": norm}


def _parts(setup: GANSetup, snapshots: Snapshots | None) -> dict[str, Part]:
    """What :func:`train_gan` saves and resumes, by name."""
    parts: dict[str, Part] = {"generator": setup.generator, "discriminator": setup.discriminator,
                              "optimiser_generator": setup.g_optimizer, "optimiser_discriminator": setup.d_optimizer}
    if snapshots is not None:
        parts["snapshots"] = snapshots
    return parts


def continue_gan(progress: ProgressFile, setup: GANSetup, snapshots: Snapshots | None, earlier: nn.ModuleDict,
                 history: History, steps: int) -> None:
    """Make :func:`train_gan` with ``progress`` continue a finished GAN instead of starting afresh: copy the
    ``earlier`` pair's generator and discriminator into ``setup`` (its optimisers stay fresh: Adam's moment
    estimates are rebuilt within a few dozen steps, β₂ = 0.9), its snapshots into the ``snapshots`` at the
    same steps, and save them with its ``history`` as the progress after ``steps`` generator steps."""
    check_count("steps", steps)
    setup.generator.load_state_dict(earlier["generator"].state_dict())
    setup.discriminator.load_state_dict(earlier["discriminator"].state_dict())
    if snapshots is not None:
        before = earlier["snapshots"]
        # published weights hold the latents in float16: compare them at that precision
        if not torch.allclose(before.latents.cpu().float(), snapshots.latents.cpu().float(), rtol=1e-3, atol=1e-3):
            raise ValueError("the earlier GAN's snapshots were drawn from other latents; continue it with the same "
                             "snapshot count, latent size and seed")
        for index, step in enumerate(before.steps.tolist()):
            matches = (snapshots.steps == step).nonzero()
            if len(matches) == 0:
                raise ValueError(f"the earlier GAN has a snapshot at step {step}, which the continued one lacks; "
                                 f"its snapshot steps must include {before.steps.tolist()}")
            snapshots.images[int(matches[0])] = before.images[index].to(snapshots.images)
            snapshots.taken[int(matches[0])] = before.taken[index]
    save_progress(progress, _parts(setup, snapshots), {key: list(values) for key, values in history.items()}, steps)


def train_gan(
    setup: GANSetup,
    batches: Iterator[Batch],
    iterations: int,
    *,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict[str, float]], bool | None] | None = None,
    progress: ProgressFile | None = None,
    save_every: int = 250,
    progress_bar: bool = True,
    snapshots: Snapshots | None = None,
) -> History:
    """Train ``setup`` for ``iterations`` generator updates; returns the per-iteration statistics.

    Args:
        setup: networks, optimisers, loss, critic steps, penalty or clipping, conditioning.
        batches: an endless iterator of (images, labels) (see :func:`endless`).
        iterations: generator updates to reach (a resumed run counts the ones already done).
        device: where to train; batches are moved there.
        on_step: called after every iteration with (iteration, statistics); returning True stops early
            (e.g. the lecture's rule: stop once D's accuracy stays near 50%).
        progress: if given, the full training state is saved there every ``save_every`` iterations and
            at the end, and a rerun resumes from it.
        progress_bar: show a tqdm bar (never when the environment variable GANCOURSE_NO_PROGRESS_BAR is set,
            as in the book's executed pages).
        snapshots: if given, G's samples of its fixed latent batch are filled in at its steps (step 0 =
            before training); they are part of the saved progress, so a resumed run keeps them.

    Returns:
        Lists per statistic: ``d_loss``, ``g_loss``, ``g_grad_norm``, ``real_score``, ``fake_score``, and
        ``d_accuracy`` (probability losses) or ``wasserstein_estimate`` (score losses), one entry per
        generator update (discriminator statistics averaged over that update's ``d_steps``).
    """
    check_count("iterations", iterations, minimum=0)
    G, D = setup.generator.to(device), setup.discriminator.to(device)
    if snapshots is not None:
        snapshots.to(device)
    run = TrainingRun(_parts(setup, snapshots), iterations, progress=progress, save_every=save_every,
                      description=f"{setup.loss.name} GAN", progress_bar=progress_bar)
    G.train()
    D.train()
    if snapshots is not None:
        snapshots.take(run.step, G, setup.conditional)
    for step in run:
        d_stats: list[dict[str, float]] = []
        for _ in range(setup.steps_for(step)):
            real, labels = next(batches)
            real, labels = real.to(device), labels.to(device)
            d_stats.append(discriminator_step(setup, real, labels))
        stats = {key: sum(s[key] for s in d_stats) / len(d_stats) for key in d_stats[0]}
        stats.update(generator_step(setup, len(real), labels, real.device))
        run.log(**stats)
        if snapshots is not None:
            snapshots.take(step + 1, G, setup.conditional)
        if on_step is not None and on_step(step + 1, stats):
            run.stop()
    return run.finish(G, D)
