"""The fast gradient sign method and its randomised variant.

FGSM (Goodfellow et al. 2015) takes one step of size ε along the sign of the loss gradient:

    untargeted:  x_adv = clip_[0,1]( x + ε · sign(∇_x L(f(x), y)) )
    targeted:    x_adv = clip_[0,1]( x − ε · sign(∇_x L(f(x), t)) )

RAND+FGSM (Tramèr et al. 2018, as in the Defense-GAN paper) first steps randomly, then spends the rest of
the budget on FGSM from there:

    x' = clip_[0,1]( x + α · sign(N(0, I)) ),   x_adv = clip_[0,1]( x' + (ε − α) · sign(∇_x' L(f(x'), y)) )
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks.base import Attack, cross_entropy_gradient
from gancourse.validation import check_positive


class FGSM(Attack):
    """One signed-gradient step of size ``eps`` (ℓ∞ budget ``eps``)."""

    norm = "linf"

    def __init__(self, model: nn.Module, eps: float = 0.3) -> None:
        super().__init__(model, eps)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        direction = -1.0 if targeted else 1.0
        return x + direction * self.eps * cross_entropy_gradient(self.model, x, labels).sign()


class RandFGSM(Attack):
    """A random signed step of size ``alpha``, then FGSM with ``eps − alpha`` (ℓ∞ budget ``eps``).

    The Defense-GAN paper uses ε = 0.3, α = 0.05 on MNIST and Fashion-MNIST.
    """

    norm = "linf"

    def __init__(self, model: nn.Module, eps: float = 0.3, alpha: float = 0.05) -> None:
        super().__init__(model, eps)
        check_positive("alpha", alpha)
        if alpha >= eps:
            raise ValueError(f"alpha (the random step, {alpha}) must be smaller than eps ({eps}); "
                             "the Defense-GAN paper uses eps=0.3, alpha=0.05")
        self.alpha = float(alpha)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        start = (x + self.alpha * torch.randn_like(x).sign()).clamp(0.0, 1.0)
        direction = -1.0 if targeted else 1.0
        gradient = cross_entropy_gradient(self.model, start, labels)
        return start + direction * (self.eps - self.alpha) * gradient.sign()
