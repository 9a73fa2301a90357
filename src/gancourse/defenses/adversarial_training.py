"""Adversaries for adversarial training: each maps (model being trained, x, y) to the x_adv it trains on.

Three ways of training on adversarial examples, from the article's list of first defenses:

* ``static``: adversarial examples of a *fixed* model (the clean classifier), labelled with the true class:
  "train on correctly labelled adversarial examples". The examples never adapt to the model being trained.
* ``fgsm``: FGSM examples of the model *being trained*, made afresh for every batch (Goodfellow et al.
  2015, weight w = 0.5 on the adversarial loss).
* ``pgd``: PGD examples of the model being trained (Madry et al. 2018, w = 1: the min-max problem
  min_θ E max_{‖δ‖∞≤ε} L(f_θ(x + δ), y)).
* ``ensemble``: ensemble adversarial training (Tramèr et al. 2018): each batch's FGSM examples come from a
  source drawn uniformly from the model being trained and fixed, pre-trained *other* models, so the
  model also learns from perturbations it did not make itself (w = 0.5).

:func:`gancourse.train.classifier.train_classifier` takes the adversary and the weight.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from gancourse.attacks import FGSM, PGD
from gancourse.attacks.base import Attack
from gancourse.validation import check_count, check_linf_budget

Adversary = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
ADVERSARIAL_TRAINING_METHODS = ("static", "fgsm", "pgd", "ensemble")
ADVERSARIAL_WEIGHTS = {"static": 0.5, "fgsm": 0.5, "pgd": 1.0, "ensemble": 0.5}


class _AttackOnTheModel:
    """The attack ``build(model)`` on the model it is handed, built on the first batch and reused for every
    later batch of the same model (rebuilt only if a different model is handed over)."""

    def __init__(self, build: Callable[[nn.Module], Attack]) -> None:
        self.build = build
        self.attack: Attack | None = None

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.attack is None or self.attack.model is not model:
            self.attack = self.build(model)
        return self.attack(x, y)


def make_adversary(method: str, eps: float, fixed_model: nn.Module | None = None, pgd_steps: int = 7,
                   static_models: list[nn.Module] | None = None, seed: int = 0) -> Adversary:
    """The adversary of ``method`` (``static``, ``fgsm``, ``pgd`` or ``ensemble``) with ℓ∞ budget ``eps``.

    ``static`` attacks a frozen copy of ``fixed_model`` (required); ``fgsm`` and ``pgd`` attack the model they
    are handed, i.e. the model being trained; ``ensemble`` draws (seeded by ``seed``) the source of each
    batch among that model and frozen copies of ``static_models`` (required). ``pgd_steps`` is PGD's K
    (step 2.5·ε/K, random start). Each attack object is built once and reused for every batch.
    """
    if method not in ADVERSARIAL_TRAINING_METHODS:
        raise ValueError(f"unknown adversarial training method {method!r}; "
                         f"choose one of {', '.join(ADVERSARIAL_TRAINING_METHODS)}")
    check_linf_budget("eps", eps)
    check_count("pgd_steps", pgd_steps)
    if method == "static":
        if fixed_model is None:
            raise ValueError("the static method needs fixed_model: the model whose adversarial examples are used")
        attack = FGSM(copy.deepcopy(fixed_model).eval(), eps)
        return lambda model, x, y: attack(x, y)
    if method == "pgd":
        return _AttackOnTheModel(lambda model: PGD(model, eps, steps=pgd_steps))
    on_the_model = _AttackOnTheModel(lambda model: FGSM(model, eps))
    if method == "fgsm":
        return on_the_model
    if not static_models:
        raise ValueError("ensemble adversarial training needs static_models: pre-trained models whose "
                         "FGSM examples are mixed in")
    statics = [FGSM(copy.deepcopy(m).eval(), eps) for m in static_models]
    draws = torch.Generator().manual_seed(seed)

    def ensemble(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        source = int(torch.randint(len(statics) + 1, (1,), generator=draws))
        return on_the_model(model, x, y) if source == len(statics) else statics[source](x, y)
    return ensemble
