"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?"):
the smallest GAN that does not converge, with two parameters one can plot.

The data is a point mass at 0; the generator is a point mass at θ; the discriminator is D_ψ(x) = σ(ψ·x).
With chapter 01's minimax value V(D, G) = E log D(x) + E log(1 − D(G(z))) — D minimises its binary
cross-entropy −V, G minimises log(1 − D_ψ(θ)) — the gradients are

    ∂L_D/∂ψ = θ · σ(ψθ)          ∂L_G/∂θ = −ψ · σ(ψθ)

(the real point x = 0 contributes nothing: D_ψ(0) = ½ for every ψ). In continuous time the field is a rotation:
d/dt ½(θ² + ψ²) = θψσ(ψθ) − ψθσ(ψθ) = 0, so the parameters circle the equilibrium forever. The only equilibrium is θ = ψ = 0, and there
the Jacobian of the update field has eigenvalues ±i/2: purely imaginary, so plain gradient steps rotate around
the equilibrium instead of approaching it. Near it, one simultaneous step of size h is the rotation-and-stretch

    (θ, ψ) ↦ (θ + hψ/2, ψ − hθ/2),        ‖·‖ grows by √(1 + h²/4) per step,

and away from it each simultaneous step multiplies θ² + ψ² by 1 + h²σ(ψθ)² > 1: simultaneous gradient descent
spirals outwards everywhere; alternating steps (D, then G on D's new ψ) keep the orbit
bounded but never reach the centre. The R1 penalty (γ/2)·E‖∇_x logit D(x_real)‖² = (γ/2)ψ² adds γψ to ψ's gradient (−hγψ to its
step) and, for a small enough h, makes the equilibrium attracting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gancourse.validation import check_count, check_positive

UPDATES = ("simultaneous", "alternating")


def discriminator_gradient(theta: torch.Tensor, psi: torch.Tensor, r1_gamma: float = 0.0) -> torch.Tensor:
    """∂/∂ψ of D's loss −log D_ψ(0) − log(1 − D_ψ(θ)) + (γ/2)ψ²: θ·σ(ψθ) + γψ."""
    return theta * torch.sigmoid(psi * theta) + r1_gamma * psi


def generator_gradient(theta: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """∂/∂θ of G's minimax loss log(1 − D_ψ(θ)): −ψ·σ(ψθ)."""
    return -psi * torch.sigmoid(psi * theta)


@dataclass(frozen=True)
class DiracRun:
    """A trajectory: ``points`` is (steps + 1) × 2, the (θ, ψ) before each step and after the last."""

    update: str
    lr: float
    r1_gamma: float
    points: torch.Tensor

    def distances(self) -> torch.Tensor:
        """‖(θ, ψ)‖ at every point: the distance to the equilibrium (0, 0)."""
        return self.points.norm(dim=1)


def train_dirac_gan(theta: float = 1.0, psi: float = 1.0, lr: float = 0.1, steps: int = 500,
                    update: str = "simultaneous", r1_gamma: float = 0.0) -> DiracRun:
    """Gradient descent on the Dirac-GAN from (θ, ψ) with step size ``lr``: ``simultaneous`` updates both from
    the same point; ``alternating`` updates ψ first and then θ against the new ψ (chapter 01's loop, one
    discriminator step per generator step). ``r1_gamma`` > 0 adds the R1 penalty to D's loss."""
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    check_positive("lr", lr)
    check_count("steps", steps)
    check_positive("r1_gamma", r1_gamma, allow_zero=True)
    t, p = torch.tensor(float(theta), dtype=torch.float64), torch.tensor(float(psi), dtype=torch.float64)
    points = [torch.stack([t, p])]
    for _ in range(steps):
        new_p = p - lr * discriminator_gradient(t, p, r1_gamma)
        t = t - lr * generator_gradient(t, new_p if update == "alternating" else p)
        p = new_p
        points.append(torch.stack([t, p]))
    return DiracRun(update, lr, r1_gamma, torch.stack(points))
