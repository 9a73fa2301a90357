"""Projected gradient descent in the ℓ∞ ball (Madry et al. 2018) and its special case I-FGSM / BIM.

From a random start x⁰ ~ U(x − ε, x + ε) (PGD) or x⁰ = x (I-FGSM, Kurakin et al. 2016), repeat K times

    x^{k+1} = Π_{B∞(x, ε) ∩ [0,1]^d} ( x^k + α · sign(∇_x L(f(x^k), y)) )      (targeted: − α · sign(∇ L(f, t)))

where Π clamps every pixel into [x − ε, x + ε] ∩ [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks.base import Attack, cross_entropy_gradient, project
from gancourse.validation import check_count, check_positive


class PGD(Attack):
    """``steps`` signed-gradient steps of size ``alpha`` projected onto the ε-ball, from a random start.

    Args:
        model: the classifier (logits).
        eps: ℓ∞ budget.
        steps: iterations K (Madry et al. use 40 on MNIST).
        alpha: step size; default 2.5·ε/K, Madry et al.'s rule, so the walk can cross the ball.
        random_start: start from a uniform point of the ball (PGD) or from x itself (I-FGSM).
    """

    norm = "linf"

    def __init__(self, model: nn.Module, eps: float = 0.3, steps: int = 40, alpha: float | None = None,
                 random_start: bool = True) -> None:
        super().__init__(model, eps)
        check_count("steps", steps)
        alpha = 2.5 * eps / steps if alpha is None else alpha
        check_positive("alpha", alpha, allow_zero=eps == 0)
        self.steps, self.alpha, self.random_start = steps, float(alpha), random_start

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        direction = -1.0 if targeted else 1.0
        adversarial = x
        if self.random_start:
            adversarial = project(x, x + torch.empty_like(x).uniform_(-self.eps, self.eps), "linf", self.eps)
        for _ in range(self.steps):
            step = direction * self.alpha * cross_entropy_gradient(self.model, adversarial, labels).sign()
            adversarial = project(x, adversarial + step, "linf", self.eps)
        return adversarial


class IFGSM(PGD):
    """I-FGSM / BIM: PGD without the random start, step ε/K by default (Kurakin et al. 2016)."""

    def __init__(self, model: nn.Module, eps: float = 0.3, steps: int = 10, alpha: float | None = None) -> None:
        check_count("steps", steps)
        super().__init__(model, eps, steps, eps / steps if alpha is None else alpha, random_start=False)
