"""Szegedy et al.'s box-constrained L-BFGS attack (2014, "Intriguing properties of neural networks"): the
attack that found the first adversarial examples, and the first in APE-GAN's list.

For a target class t, look for a small r that the model puts in class t, inside the box of valid images:

    minimise  ‖r‖₂² + c · CE(f(x + r), t)      subject to  x + r ∈ [0, 1]^d

solved by L-BFGS-B (scipy), which keeps the box exactly instead of clipping afterwards. Szegedy et al. put the
constant on the distance term and line-search it; weighting the loss instead (as Carlini & Wagner do) is the
same family of problems. The smallest c that still reaches t gives the smallest perturbation, so c is searched
per image: divided by 10 after a success until a failure is known, multiplied by 10 after a failure until a
success is known, then bisected between the two. The smallest successful x + r over the search is returned; an
image never moved to t is returned unchanged. Targeted only, unbounded (judged by the ℓ2 it needs).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import Bounds, minimize
from torch import nn

from gancourse.attacks.base import Attack
from gancourse.validation import check_count, check_positive


class LBFGSAttack(Attack):
    """The L-BFGS attack, batched: one L-BFGS-B problem for the whole batch (the objective is a sum of
    independent per-image terms, so each image's minimiser is its own), one constant c per image.

    Args:
        model: a classifier returning logits for images in [0, 1].
        steps: L-BFGS-B iterations per value of c.
        search_steps: values of c tried per image.
        initial_const: the first c.
    """

    norm = None
    supports_untargeted = False

    def __init__(self, model: nn.Module, steps: int = 50, search_steps: int = 6, initial_const: float = 1.0) -> None:
        super().__init__(model)
        check_count("steps", steps)
        check_count("search_steps", search_steps)
        check_positive("initial_const", initial_const)
        self.steps, self.search_steps, self.initial_const = steps, search_steps, float(initial_const)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        n = len(x)
        const = torch.full((n,), self.initial_const, device=x.device)
        lower = torch.zeros(n, device=x.device)                  # largest c known to fail
        upper = torch.full((n,), float("inf"), device=x.device)  # smallest c known to succeed
        best, best_distance = x.clone(), torch.full((n,), float("inf"), device=x.device, dtype=x.dtype)
        start = x.detach().double().cpu().numpy().ravel()
        for _ in range(self.search_steps):
            candidate = self._minimise(x, labels, const, start)
            with torch.no_grad():
                reached = self.model(candidate).argmax(1) == labels
                distance = (candidate - x).flatten(1).pow(2).sum(1)
            improved = reached & (distance < best_distance)
            best[improved], best_distance[improved] = candidate[improved], distance[improved]
            upper = torch.where(reached, torch.minimum(upper, const), upper)
            lower = torch.where(reached, lower, torch.maximum(lower, const))
            bracketed = upper.isfinite() & (lower > 0)
            const = torch.where(bracketed, (lower + upper) / 2, torch.where(reached, const / 10, const * 10))
        return best

    def _minimise(self, x: torch.Tensor, labels: torch.Tensor, const: torch.Tensor, start: np.ndarray) -> torch.Tensor:
        """argmin over x' ∈ [0, 1]^d of Σ_i ‖x'_i − x_i‖² + c_i · CE(f(x'_i), t_i), by L-BFGS-B from x."""
        def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
            candidate = torch.from_numpy(flat).view(x.shape).to(device=x.device, dtype=x.dtype).requires_grad_(True)
            with torch.enable_grad():
                loss = ((candidate - x).flatten(1).pow(2).sum(1)
                        + const * F.cross_entropy(self.model(candidate), labels, reduction="none")).sum()
                gradient, = torch.autograd.grad(loss, candidate)
            return loss.item(), gradient.double().cpu().numpy().ravel()

        result = minimize(objective, start.copy(), jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                          options={"maxiter": self.steps})
        return torch.from_numpy(result.x).view(x.shape).to(device=x.device, dtype=x.dtype)
