"""Carlini & Wagner's ℓ2 attack (2017), with the binary search over the constant c.

Change of variables x' = (tanh(w) + 1) / 2 keeps x' in [0, 1]; minimise with Adam

    ‖x' − x‖₂² + c · g(x'),
    g(x') = max( max_{i≠t} Z_i(x') − Z_t(x'), −κ )       (targeted, towards t)
    g(x') = max( Z_y(x') − max_{i≠y} Z_i(x'), −κ )       (untargeted, away from y)

with Z the logits. After each run of ``steps`` iterations, c is bisected per image: halved towards the
last failing value where the attack succeeded, multiplied by 10 (until an upper bound is known) where it
failed. The smallest successful x' over all runs is returned; an image never fooled is returned unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks.base import Attack
from gancourse.validation import check_count, check_positive


def cw_margin(logits: torch.Tensor, labels: torch.Tensor, targeted: bool, kappa: float = 0.0) -> torch.Tensor:
    """g per image: max_{i≠t} Z_i − Z_t (targeted) or Z_y − max_{i≠y} Z_i (untargeted), floored at −κ."""
    rows = torch.arange(len(labels), device=logits.device)
    own = logits[rows, labels]
    others = logits.clone()
    others[rows, labels] = float("-inf")
    best_other = others.amax(1)
    margin = best_other - own if targeted else own - best_other
    return margin.clamp(min=-kappa)


class CarliniWagnerL2(Attack):
    """C&W-L2, batched: every image has its own constant c and its own binary search.

    The paper runs Adam with lr 0.01 for up to 10,000 iterations per search step, from c₀ = 1e-3 with 9
    search steps. With a budget of ~100 iterations that fails on MNIST-like images: their pixels sit at
    0 or 1, where w = atanh(2x − 1) is about ±7, and Adam moves w by about lr per step, so a pixel at 0
    cannot change visibly in 100 steps of 0.01. The defaults here (lr 0.1, 100 steps, c₀ = 0.1, 5 search
    steps) are this book's choice for that budget. The Defense-GAN paper's code uses ``steps=100,
    search_steps=1, lr=10, initial_const=100``.
    """

    norm = None

    def __init__(self, model: nn.Module, steps: int = 100, search_steps: int = 5, initial_const: float = 0.1,
                 lr: float = 0.1, kappa: float = 0.0) -> None:
        super().__init__(model)
        check_count("steps", steps)
        check_count("search_steps", search_steps)
        check_positive("initial_const", initial_const)
        check_positive("lr", lr)
        check_positive("kappa", kappa, allow_zero=True)
        self.steps, self.search_steps = steps, search_steps
        self.initial_const, self.lr, self.kappa = float(initial_const), float(lr), float(kappa)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        n = len(x)
        const = torch.full((n,), self.initial_const, device=x.device)
        lower = torch.zeros(n, device=x.device)
        upper = torch.full((n,), float("inf"), device=x.device)
        best = x.clone()
        best_distance = torch.full((n,), float("inf"), device=x.device)
        w_start = torch.atanh((x * 2 - 1) * (1 - 1e-6))
        for _ in range(self.search_steps):
            w = w_start.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=self.lr)
            succeeded = torch.zeros(n, dtype=torch.bool, device=x.device)
            for _ in range(self.steps):
                candidate = (torch.tanh(w) + 1) / 2
                logits = self.model(candidate)
                distance = (candidate - x).flatten(1).pow(2).sum(1)
                margin = cw_margin(logits, labels, targeted, self.kappa)
                loss = (distance + const * margin).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    fooled = self._fooled(logits, labels, targeted)
                    improved = fooled & (distance < best_distance)
                    best_distance = torch.where(improved, distance, best_distance)
                    best[improved] = candidate.detach()[improved]
                    succeeded |= fooled
            upper = torch.where(succeeded, torch.minimum(upper, const), upper)
            lower = torch.where(succeeded, lower, torch.maximum(lower, const))
            const = torch.where(upper.isinf(), const * 10, (lower + upper) / 2)
        return best

    def _fooled(self, logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        """Success with confidence κ: the target leads by more than κ (targeted), or another class leads the
        true one by more than κ (untargeted); with κ = 0 this is the argmax test."""
        return cw_margin(logits, labels, targeted, kappa=float("inf")) < -self.kappa
