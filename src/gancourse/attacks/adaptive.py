"""The adaptive attack of the robustness matrix: PGD as an evaluator would run it against a defense (Carlini
et al. 2019, "On Evaluating Adversarial Robustness"; Athalye et al. 2018 for BPDA and EOT).

Against the network a defense exposes to an attacker who knows it (its ``adaptive_target``: the whole pipeline,
with BPDA where a step has no useful gradient, and the detector's "rejected" logits appended), with z the
target's logits, K the number of real classes and the logits from K on meaning "rejected", the margin

    m(x) = max_{j ≠ y, j < K} z_j(x) − max(z_y(x), max_{k ≥ K} z_k(x))

is positive exactly when the pipeline accepts x and puts it in a wrong class. Restarts alternate two losses,
as AutoAttack does (Croce & Hein 2020): the cross-entropy of the real classes, less any lead of a rejection
logit,

    ℓ_CE(x) = −log softmax(z_{<K}(x))_y − max(0, max_{k ≥ K} z_k(x) − max_{j < K} z_j(x)),

strong against an undefended network, and the margin m itself (C&W's loss), which a saturated softmax cannot
flatten. Each of R restarts begins at a uniform point of the ε-ball and takes S signed-gradient steps

    x^{s+1} = Π_{B∞(x, ε) ∩ [0,1]^d} ( x^s + α · sign( (1/E) Σ_e ∇_x ℓ_e(x^s) ) )

where the E terms are E forward passes of a randomised defense (EOT: the gradient of the expected loss; one
pass for a deterministic one). Per image, the result is the first point, over steps and restarts, that
the defense's own decision (``fooled``) counts as a success — so a restart or a late step that wanders off
never undoes an earlier success — else the point of largest margin seen. The defense judges, at each step, the
images the attacker's own pass already puts in a wrong class, and at a restart's last step every image.

Against a randomised defense the success test needs EOT as much as the gradient does: a point that one call of
the defense misclassifies may be classified correctly by the next, and an attack that stops at its first lucky
call leaves the evaluation's own, fresh call a point barely past the boundary. With J judge calls, an image
counts as fooled only if each of J independent calls of the defense misclassifies it,

    success(x) = ∧_{j=1..J} fooled_j(x),

so the attack keeps pushing until the point fools the defense reliably (the calls stop at an image's first
"not fooled").
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.attacks.base import Attack, project
from gancourse.validation import check_count, check_positive

Judge = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (adversarial images, labels) → fooled (bool per image)


def margin_loss(logits: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """m per image: the best wrong real class's logit minus the larger of the true class's logit and the best
    "rejected" logit (columns ``classes`` and up); positive exactly when the network picks a wrong real class."""
    if not 1 < classes <= logits.shape[1]:
        raise ValueError(f"classes must be between 2 and the {logits.shape[1]} logits, got {classes}")
    rows = torch.arange(len(labels), device=logits.device)
    real = logits[:, :classes].clone()
    own = real[rows, labels]
    real[rows, labels] = float("-inf")
    if logits.shape[1] > classes:
        own = torch.maximum(own, logits[:, classes:].amax(1))
    return real.amax(1) - own


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """ℓ_CE per image (module docstring): the real classes' cross-entropy, less the lead of a rejection logit."""
    loss = F.cross_entropy(logits[:, :classes], labels, reduction="none")
    if logits.shape[1] > classes:
        loss = loss - (logits[:, classes:].amax(1) - logits[:, :classes].amax(1)).clamp(min=0)
    return loss


LOSSES = {"ce": cross_entropy_loss, "margin": margin_loss}


class AdaptivePGD(Attack):
    """Untargeted ℓ∞ PGD with random restarts (cross-entropy and margin loss in turn), EOT, and each image's
    first success kept (module docstring).

    Args:
        model: the adaptive target (logits; columns from ``classes`` on are "rejected" logits).
        eps: ℓ∞ budget.
        steps: S per restart (at least the strongest oblivious attack's).
        restarts: R random starts.
        eot_samples: E forward passes averaged per gradient (1 for a deterministic defense).
        alpha: step size; default 2.5·ε/S (Madry et al.'s rule).
        classes: K real classes (default: every logit is a class).
        fooled: the defense's decision, ``fooled(x_adv, y)`` → bool per image (default: the target's own
            argmax is a wrong real class); decides which point is kept.
        losses: the restarts' losses in turn, from :data:`LOSSES` (default: cross-entropy, then margin).
        judge_calls: J calls of ``fooled`` that must all say "fooled" (module docstring; 1 for a deterministic
            defense).
    """

    norm = "linf"
    supports_targeted = False

    def __init__(self, model: nn.Module, eps: float = 0.3, steps: int = 40, restarts: int = 1,
                 eot_samples: int = 1, alpha: float | None = None, classes: int | None = None,
                 fooled: Judge | None = None, losses: tuple[str, ...] = ("ce", "margin"),
                 judge_calls: int = 1) -> None:
        super().__init__(model, eps)
        check_count("steps", steps)
        check_count("restarts", restarts)
        check_count("eot_samples", eot_samples)
        check_count("judge_calls", judge_calls)
        if judge_calls > 1 and fooled is None:
            raise ValueError("judge_calls > 1 needs a fooled judge (the defense's decision) to call again; "
                             "without one the attacker's own deterministic pass decides")
        alpha = 2.5 * eps / steps if alpha is None else alpha
        check_positive("alpha", alpha, allow_zero=eps == 0)
        if classes is not None:
            check_count("classes", classes, minimum=2)
        self.steps, self.restarts, self.eot_samples, self.alpha = steps, restarts, eot_samples, float(alpha)
        if not losses or set(losses) - set(LOSSES):
            raise ValueError(f"losses must name some of {sorted(LOSSES)}, got {losses}")
        self.classes, self.fooled, self.losses, self.judge_calls = classes, fooled, tuple(losses), judge_calls

    def _margin(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        return margin_loss(logits, labels, self.classes or logits.shape[1])

    def _margin_and_gradient(self, x: torch.Tensor, labels: torch.Tensor, loss: str,
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """m(x) of the first pass and Σ_e ∇_x ℓ_e(x) over the E passes."""
        margins, gradient = [], torch.zeros_like(x)
        for _ in range(self.eot_samples):
            inputs = x.detach().requires_grad_(True)
            with torch.enable_grad():
                logits = self.model(inputs)
                classes = self.classes or logits.shape[1]
                gradient += torch.autograd.grad(LOSSES[loss](logits, labels, classes).sum(), inputs)[0]
            margins.append(margin_loss(logits.detach(), labels, classes))
        return margins[0], gradient

    def _judge(self, x: torch.Tensor, labels: torch.Tensor, margin: torch.Tensor, everyone: bool) -> torch.Tensor:
        """Which images the defense's decision counts as fooled. Before a restart's last step only the candidates
        (positive margin on the attacker's own pass) are put to the defense, which for a costly defense
        (Defense-GAN projects every image it judges) saves most of the judging; at the last step, every image."""
        if self.fooled is None:
            return margin > 0
        success = torch.ones_like(margin, dtype=torch.bool) if everyone else margin > 0
        for _ in range(self.judge_calls):              # each call only for the images every earlier call fooled
            if not success.any():
                break
            with torch.no_grad():
                success[success.clone()] = self.fooled(x[success], labels[success]).to(device=margin.device,
                                                                                      dtype=torch.bool)
        return success

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        best, best_margin = x.clone(), torch.full((len(x),), float("-inf"), device=x.device)
        done = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for restart in range(self.restarts):
            loss = self.losses[restart % len(self.losses)]
            active = (~done).nonzero().squeeze(1)     # the images this restart still works on
            origin = x[active]
            adversarial = project(origin, origin + torch.empty_like(origin).uniform_(-self.eps, self.eps), "linf",
                                  self.eps)
            for step in range(self.steps + 1):
                if len(active) == 0:
                    break
                goal = labels[active]
                last = step == self.steps
                if last:
                    with torch.no_grad():
                        margin = self._margin(adversarial, goal)
                else:
                    margin, gradient = self._margin_and_gradient(adversarial, goal, loss)
                better = margin > best_margin[active]
                best[active[better]], best_margin[active[better]] = adversarial[better], margin[better]
                success = self._judge(adversarial, goal, margin, everyone=last)
                best[active[success]], done[active[success]] = adversarial[success], True
                if last:
                    break
                adversarial = project(origin, adversarial + self.alpha * gradient.sign(), "linf", self.eps)
                active, origin, adversarial = active[~success], origin[~success], adversarial[~success]
        return best
