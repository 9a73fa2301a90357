"""The Jacobian-based saliency map attack (Papernot et al. 2016): a targeted ℓ0 attack.

With target t, let α_p = ∂f_t/∂x_p and β_p = Σ_{k≠t} ∂f_k/∂x_p (f: logits). Among pairs of pixels (p, q)
still in the search domain, pick

    (p*, q*) = argmax_{p≠q}  (α_p + α_q) · |β_p + β_q|   subject to  α_p + α_q > 0,  β_p + β_q < 0,

set both pixels to x + θ (θ = 1: to white), remove them from the domain, and repeat until f predicts t,
no pair qualifies, or γ·d pixels have changed. Pixels already at 1 are never in the domain.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gancourse.attacks.base import Attack
from gancourse.validation import check_count, check_positive


class JSMA(Attack):
    """Targeted, batched JSMA increasing pixels by ``theta``, changing at most ``gamma`` of the pixels.

    ``chunk`` bounds memory: the pair scores of ``chunk`` images (chunk × d × d floats) exist at once; the
    pair search, not the model, dominates the cost, and small chunks keep it in cache (8 was fastest here).
    The ℓ0 budget of a batch of d-pixel images is 2·⌊γ·d/2⌋ (whole pairs), computed by :meth:`budget`.
    """

    norm = "l0"
    supports_untargeted = False

    def __init__(self, model: nn.Module, theta: float = 1.0, gamma: float = 0.1, chunk: int = 8) -> None:
        check_positive("theta", theta)
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma (the largest fraction of pixels to change) must be in (0, 1], got {gamma}")
        check_count("chunk", chunk)
        self.theta, self.gamma, self.chunk = float(theta), float(gamma), chunk
        super().__init__(model, eps=0.0)

    def budget(self, x: torch.Tensor) -> float:
        """At most 2·⌊γ·d/2⌋ changed pixels per image of d pixels: whole pairs, within the fraction γ."""
        return 2 * math.floor(self.gamma * x[0].numel() / 2)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        pairs = int(self.budget(x)) // 2
        return torch.cat([self._attack_chunk(x[i:i + self.chunk], labels[i:i + self.chunk], pairs)
                          for i in range(0, len(x), self.chunk)])

    def _attack_chunk(self, x: torch.Tensor, target: torch.Tensor, pairs: int) -> torch.Tensor:
        n, shape = len(x), x.shape[1:]
        flat = x.flatten(1).clone()
        domain = flat < 1.0
        not_diagonal = ~torch.eye(flat.shape[1], dtype=torch.bool, device=x.device)
        active = torch.ones(n, dtype=torch.bool, device=x.device)
        for _ in range(pairs):
            rows = active.nonzero().squeeze(1)          # only images still on their way are computed
            if len(rows) == 0:
                break
            inputs = flat[rows].detach().view(len(rows), *shape).requires_grad_(True)
            logits = self.model(inputs)
            target_logit = logits.gather(1, target[rows, None]).sum()
            alpha, = torch.autograd.grad(target_logit, inputs, retain_graph=True)
            everything, = torch.autograd.grad(logits.sum(), inputs)
            alpha = alpha.flatten(1)
            beta = everything.flatten(1) - alpha
            pair_alpha = alpha.unsqueeze(2) + alpha.unsqueeze(1)                      # n×d×d
            pair_beta = beta.unsqueeze(2) + beta.unsqueeze(1)
            usable = (pair_alpha > 0) & (pair_beta < 0) & not_diagonal
            usable &= domain[rows].unsqueeze(2) & domain[rows].unsqueeze(1)
            scores = torch.where(usable, pair_alpha * -pair_beta, torch.zeros_like(pair_alpha))
            best_score, best = scores.flatten(1).max(1)
            moving = (logits.argmax(1) != target[rows]) & (best_score > 0)
            active[rows[~moving]] = False               # reached the target, or no pair qualifies
            if not moving.any():
                break
            p, q = best // flat.shape[1], best % flat.shape[1]
            for pixel in (p, q):
                index = rows[moving], pixel[moving]
                flat[index] = (flat[index] + self.theta).clamp(max=1.0)
                domain[index] = False
        return flat.view_as(x)
