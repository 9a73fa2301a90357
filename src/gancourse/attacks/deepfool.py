"""DeepFool (Moosavi-Dezfooli et al. 2016): the smallest ℓ2 step that crosses the linearised decision boundary.

At the current point x_i, with logits f_k and true class y, linearise every boundary k ≠ y:

    w_k = ∇f_k(x_i) − ∇f_y(x_i),   f'_k = f_k(x_i) − f_y(x_i),
    l̂ = argmin_{k≠y} |f'_k| / ‖w_k‖₂,     r_i = (|f'_l̂| / ‖w_l̂‖₂²) · w_l̂ ,

accumulate r = Σ r_i and move to x_{i+1} = clip(x + (1 + overshoot) · r) until the label changes. The
whole batch walks together; an image stops moving once it is misclassified. No budget: DeepFool reports
how far the boundary is.
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks.base import Attack
from gancourse.validation import check_count, check_positive


class DeepFool(Attack):
    """Untargeted minimum-ℓ2 attack, batched. ``steps`` caps the iterations; ``overshoot`` (0.02 in the
    paper) pushes just past the boundary."""

    norm = None
    supports_targeted = False

    def __init__(self, model: nn.Module, steps: int = 50, overshoot: float = 0.02) -> None:
        super().__init__(model)
        check_count("steps", steps)
        check_positive("overshoot", overshoot, allow_zero=True)
        self.steps, self.overshoot = steps, float(overshoot)

    def _logits_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits N×K and their input gradients N×K×D (one backward pass per class, shared by the batch)."""
        x = x.detach().requires_grad_(True)
        logits = self.model(x)
        rows = [torch.autograd.grad(logits[:, k].sum(), x, retain_graph=k < logits.shape[1] - 1)[0].flatten(1)
                for k in range(logits.shape[1])]
        return logits.detach(), torch.stack(rows, dim=1)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        total = torch.zeros_like(x.flatten(1))
        adversarial = x.clone()
        active = torch.arange(len(x), device=x.device)
        for _ in range(self.steps):
            logits, jacobian = self._logits_and_jacobian(adversarial[active])
            still_correct = logits.argmax(1) == labels[active]
            active, logits, jacobian = active[still_correct], logits[still_correct], jacobian[still_correct]
            if len(active) == 0:
                break
            true = labels[active]
            rows = torch.arange(len(active), device=x.device)
            w = jacobian - jacobian[rows, true].unsqueeze(1)                       # N×K×D
            f = logits - logits[rows, true].unsqueeze(1)                           # N×K
            w_norm = w.norm(dim=2).clamp_min(1e-8)
            distance = f.abs() / w_norm
            distance[rows, true] = float("inf")
            nearest = distance.argmin(1)
            step = ((distance[rows, nearest] + 1e-4) / w_norm[rows, nearest]).unsqueeze(1) * w[rows, nearest]
            total[active] += step
            adversarial[active] = (x[active] + (1 + self.overshoot) * total[active].view_as(x[active])).clamp(0, 1)
        return adversarial
