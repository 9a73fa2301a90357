"""Adversarial losses, written next to the equations they implement.

Discriminator outputs are *logits* ``l`` (``D = sigmoid(l)``) for the probability losses and raw
*scores* for the Wasserstein, least-squares and hinge losses. Every function returns a scalar to
**minimise**; each docstring quotes the objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def d_loss_minimax(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator maximises  V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))];
    it minimises  −E_x[log D(x)] − E_z[log(1 − D(G(z)))]  (binary cross-entropy, real = 1, fake = 0)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator of the original minimax game minimises  E_z[log(1 − D(G(z)))]  (saturating:
    its gradient vanishes when D confidently rejects the fakes). log(1 − sigmoid(l)) = −softplus(l)."""
    return -F.softplus(fake_logits).mean()


def g_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss  −E_z[log D(G(z))]  (Goodfellow et al. 2014, section 3).
    −log sigmoid(l) = softplus(−l)."""
    return F.softplus(-fake_logits).mean()


def critic_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The WGAN critic maximises  E_x[C(x)] − E_z[C(G(z))]  (an estimate of the Wasserstein-1 distance
    when C is 1-Lipschitz); it minimises  E_z[C(G(z))] − E_x[C(x)]."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """The WGAN generator minimises  −E_z[C(G(z))]."""
    return -fake_scores.mean()


def d_loss_least_squares(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN (Mao et al. 2017):  ½ E_x[(D(x) − 1)²] + ½ E_z[D(G(z))²]."""
    return 0.5 * ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean())


def g_loss_least_squares(fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN generator:  ½ E_z[(D(G(z)) − 1)²]."""
    return 0.5 * (fake_scores - 1).pow(2).mean()


def d_loss_hinge(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss:  E_x[max(0, 1 − D(x))] + E_z[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def g_loss_hinge(fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss:  −E_z[D(G(z))]."""
    return -fake_scores.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, weight: float = 10.0) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017):  λ E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²],
    with x̂ = ε x + (1 − ε) x̃, ε ~ U[0, 1] drawn once per example, x real and x̃ generated.

    The graph is kept (``create_graph=True``) so that the penalty can be minimised by the critic.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake batches differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    if weight < 0:
        raise ValueError(f"the penalty weight λ must be non-negative, got {weight}")
    epsilon = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (epsilon * real.detach() + (1 - epsilon) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (gradients,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = gradients.flatten(1).norm(2, dim=1)
    return weight * (norms - 1).pow(2).mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """A discriminator (or critic) loss and the generator loss it is paired with."""

    name: str
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]
    outputs_probability_logits: bool


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss("minimax", d_loss_minimax, g_loss_minimax, True),
    "non-saturating": AdversarialLoss("non-saturating", d_loss_minimax, g_loss_non_saturating, True),
    "wasserstein": AdversarialLoss("wasserstein", critic_loss_wasserstein, g_loss_wasserstein, False),
    "least-squares": AdversarialLoss("least-squares", d_loss_least_squares, g_loss_least_squares, False),
    "hinge": AdversarialLoss("hinge", d_loss_hinge, g_loss_hinge, False),
}


def adversarial_loss(name: str) -> AdversarialLoss:
    """The loss pair called ``name``: minimax, non-saturating, wasserstein, least-squares or hinge."""
    if name not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown adversarial loss {name!r}; choose one of {', '.join(ADVERSARIAL_LOSSES)}")
    return ADVERSARIAL_LOSSES[name]


def clip_weights(module: nn.Module, limit: float) -> None:
    """WGAN's (Arjovsky et al. 2017) Lipschitz constraint: clamp every parameter to [−c, c] in place."""
    if limit <= 0:
        raise ValueError(f"the clipping limit c must be positive, got {limit}")
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.clamp_(-limit, limit)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Defensive distillation's training loss (Papernot et al. 2016), the cross-entropy of the student's
    softened prediction against the teacher's softened one, averaged over the batch:

        L = −(1/N) Σ_i Σ_k softmax(g(x_i)/T)_k · log softmax(f(x_i)/T)_k
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student and teacher logits differ in shape: {tuple(student_logits.shape)} vs "
                         f"{tuple(teacher_logits.shape)}")
    soft_labels = torch.softmax(teacher_logits / temperature, dim=1)
    return -(soft_labels * torch.log_softmax(student_logits / temperature, dim=1)).sum(1).mean()
