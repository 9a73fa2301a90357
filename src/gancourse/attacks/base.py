"""The contract every attack keeps, enforced once here rather than in each attack.

An attack is configured once and called::

    attack = PGD(model, eps=0.1, steps=40)
    x_adv = attack(x, y)              # untargeted: move away from the true labels y
    x_adv = attack(x, target=t)       # targeted: move towards the labels t

The call checks its inputs (N×C×H×W floats in [0, 1], finite; one int64 label per image), runs the
attack with the model in eval mode and its parameters frozen, puts the model's mode and ``requires_grad``
flags back, projects the result onto the budget and onto [0, 1], and returns a detached tensor on the
input's device. The input tensor is never modified and the parameters' ``.grad`` are never touched
(gradients are taken with respect to the input only, with :func:`torch.autograd.grad`).

Budgets (``norm``): ``"linf"`` ‖x_adv − x‖∞ ≤ ε, ``"l2"`` ‖x_adv − x‖₂ ≤ ε per image, ``"l0"`` at most ε
changed pixels per image (checked, as no projection onto an ℓ0 ball is meaningful), ``None`` for
minimum-perturbation attacks (DeepFool, C&W) that have no budget, only the box [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.networks import frozen_eval, input_gradient, model_device
from gancourse.validation import check_dtype, check_images, check_labels, check_linf_budget, check_positive

NORMS = ("linf", "l2", "l0", None)


def cross_entropy_gradient(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∇_x Σ_i CE(f(x_i), y_i): the summed (not averaged) loss, so each image's gradient is its own."""
    return input_gradient(lambda inputs: F.cross_entropy(model(inputs), labels, reduction="sum"), x)


def project(original: torch.Tensor, adversarial: torch.Tensor, norm: str | None, eps: float) -> torch.Tensor:
    """Project ``adversarial`` onto {x' : ‖x' − x‖ ≤ ε} ∩ [0, 1]^d (ℓ∞: clamp; ℓ2: rescale) per image."""
    delta = adversarial - original
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    elif norm == "l2":
        norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
        delta = delta * (eps / norms).clamp(max=1.0).view(-1, *[1] * (delta.dim() - 1))
    return (original + delta).clamp(0.0, 1.0)


def perturbation_norms(original: torch.Tensor, adversarial: torch.Tensor, tolerance: float = 1e-6,
                       ) -> dict[str, torch.Tensor]:
    """Per-image ℓ0 (pixels changed by more than ``tolerance``), ℓ2 and ℓ∞ sizes of x_adv − x."""
    delta = (adversarial - original).flatten(1)
    return {"l0": (delta.abs() > tolerance).sum(1).float(), "l2": delta.norm(dim=1),
            "linf": delta.abs().amax(1)}


class Attack:
    """Base class. Subclasses set ``norm``, call ``super().__init__`` and implement :meth:`perturb`.

    Args:
        model: a classifier returning logits for images in [0, 1].
        eps: the budget in the attack's norm (ignored when ``norm`` is None); an ℓ∞ budget lies in [0, 1].
        targeted / untargeted: which modes the attack supports.
    """

    norm: str | None = "linf"
    supports_targeted: bool = True
    supports_untargeted: bool = True

    def __init__(self, model: nn.Module, eps: float = 0.0) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if self.norm == "linf":
            check_linf_budget("eps", eps)
        elif self.norm is not None:
            check_positive("eps", eps, allow_zero=True)
        self.model = model
        self.eps = float(eps)
        self._num_classes: int | None = None

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value}" for key, value in vars(self).items() if not key.startswith("_")
                             and key != "model")
        return f"{type(self).__name__}({settings})"

    def budget(self, x: torch.Tensor) -> float:
        """The budget for the batch ``x``: ``eps``, unless the attack derives it from the images' size."""
        return self.eps

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        """The attack proper: adversarial versions of ``x`` (on the model's device). ``labels`` are the
        true labels (untargeted) or the targets (targeted). Called with the model frozen in eval mode."""
        raise NotImplementedError

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | None = None, *,
                 target: torch.Tensor | None = None) -> torch.Tensor:
        """Adversarial examples for ``images``: away from ``labels``, or towards ``target`` if given."""
        check_images(images)
        check_dtype(images, self.model)
        if (labels is None) == (target is None):
            raise ValueError("pass the true labels for an untargeted attack, attack(x, y), or the target "
                             "labels for a targeted one, attack(x, target=t), but not both")
        targeted = target is not None
        goal = target if targeted else labels
        check_labels(goal, len(images), "target" if targeted else "labels")
        if targeted and not self.supports_targeted:
            raise ValueError(f"{type(self).__name__} is untargeted only; call it as attack(x, y)")
        if not targeted and not self.supports_untargeted:
            raise ValueError(f"{type(self).__name__} is targeted only; call it as attack(x, target=t)")
        if len(images) == 0:
            return images.detach().clone()
        device = model_device(self.model)
        x = images.detach().to(device)
        with frozen_eval(self.model):
            if self._num_classes is None:   # one forward pass, the first time this attack is called
                with torch.no_grad():
                    self._num_classes = self.model(x[:1]).shape[1]
            num_classes = self._num_classes
            if goal.max() >= num_classes:
                raise ValueError(f"{'target' if targeted else 'labels'} hold class {goal.max().item()}, but the "
                                 f"model has only {num_classes} classes (0…{num_classes - 1})")
            adversarial = self.perturb(x.clone(), goal.to(device=device, dtype=torch.int64), targeted)
        budget = self.budget(x)
        adversarial = project(x, adversarial.detach(), self.norm, budget)
        if self.norm == "l0":
            changed = perturbation_norms(x, adversarial)["l0"]
            if (changed > budget).any():
                raise RuntimeError(f"{type(self).__name__} changed {int(changed.max())} pixels, more than its "
                                   f"budget of {budget:g}: a bug in the attack")
        return adversarial.to(images.device)
