"""How much gradient a fixed generator receives while its opponent is trained towards optimality — the
argument for the Wasserstein loss (Arjovsky & Bottou 2017, Fig. 2; Arjovsky et al. 2017, Fig. 2), measured.

Against a fixed generator G, train a fresh opponent on real images vs G(z) and, every so often, measure the
generator's gradient ‖∇_θ L_G‖ on a fixed probe batch of latents:

* a **discriminator** (binary cross-entropy) grows confident: D(G(z)) → 0 and the minimax loss
  L_G = E log(1 − D(G(z))) has a gradient that shrinks towards 0 (the non-saturating −E log D(G(z)) is
  shown beside it);
* a **critic** trained under WGAN-GP's penalty (λ E(‖∇C(x̂)‖ − 1)²) stays about 1-Lipschitz, and
  L_G = −E C(G(z)) keeps a gradient of a stable size however long the critic trains.

Only the opponent is updated; G only receives the measured gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch
from torch import nn

from gancourse.losses import (
    critic_loss_wasserstein,
    d_loss_minimax,
    g_loss_minimax,
    g_loss_non_saturating,
    g_loss_wasserstein,
    gradient_penalty,
)
from gancourse.train.gan import gradient_norm
from gancourse.validation import check_count

GENERATOR_LOSSES = {"discriminator": {"minimax": g_loss_minimax, "non-saturating": g_loss_non_saturating},
                    "critic": {"wasserstein": g_loss_wasserstein}}


@dataclasses.dataclass(frozen=True)
class GradientReading:
    """After ``step`` opponent updates: the mean opponent output on G(probe) (D's probability, or the critic's
    score) and the generator's gradient norm under each loss."""

    step: int
    fake_output: float
    norms: dict[str, float]


def _reading(step: int, kind: str, generator: nn.Module, opponent: nn.Module, probe: torch.Tensor) -> GradientReading:
    norms = {}
    for name, loss in GENERATOR_LOSSES[kind].items():
        generator.zero_grad(set_to_none=True)
        output = opponent(generator(probe))
        loss(output).backward()
        norms[name] = gradient_norm(generator)
    generator.zero_grad(set_to_none=True)
    fake = torch.sigmoid(output).mean() if kind == "discriminator" else output.mean()
    return GradientReading(step, fake.item(), norms)


def generator_gradients(generator: nn.Module, opponent: nn.Module, real_batches: Iterator[torch.Tensor],
                        checkpoints: list[int], *, kind: str, probe: torch.Tensor, lr: float = 2e-4,
                        betas: tuple[float, float] = (0.5, 0.999), penalty: float = 10.0) -> list[GradientReading]:
    """Train ``opponent`` (a ``"discriminator"`` with binary cross-entropy, or a ``"critic"`` with the
    Wasserstein loss and gradient penalty ``penalty``) against the fixed ``generator`` on ``real_batches``
    with Adam(``lr``, ``betas``) up to the last of ``checkpoints``, and read the generator's gradients on
    ``probe`` (latents) at each checkpoint (module docstring). ``generator`` keeps its weights and mode."""
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"kind must be 'discriminator' or 'critic', got {kind!r}")
    if not checkpoints or sorted(set(checkpoints)) != list(checkpoints) or checkpoints[0] < 0:
        raise ValueError(f"checkpoints must be distinct, non-negative and increasing, got {checkpoints}")
    check_count("steps", checkpoints[-1], minimum=0)
    optimiser = torch.optim.Adam(opponent.parameters(), lr, betas=betas)
    readings = []
    for step in range(checkpoints[-1] + 1):
        if step in checkpoints:
            readings.append(_reading(step, kind, generator, opponent, probe))
        if step == checkpoints[-1]:
            break
        real = next(real_batches).to(probe.device)
        with torch.no_grad():
            fake = generator(torch.randn(len(real), probe.shape[1], device=probe.device))
        if kind == "discriminator":
            loss = d_loss_minimax(opponent(real), opponent(fake))
        else:
            loss = critic_loss_wasserstein(opponent(real), opponent(fake)) + gradient_penalty(
                opponent, real, fake, penalty)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return readings
