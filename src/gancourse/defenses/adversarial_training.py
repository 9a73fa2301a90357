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

Adversary = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
ADVERSARIAL_TRAINING_METHODS = ("static", "fgsm", "pgd", "ensemble")
ADVERSARIAL_WEIGHTS = {"static": 0.5, "fgsm": 0.5, "pgd": 1.0, "ensemble": 0.5}


def make_adversary(method: str, eps: float, fixed_model: nn.Module | None = None, pgd_steps: int = 7,
                   static_models: list[nn.Module] | None = None, seed: int = 0) -> Adversary:
    """The adversary of ``method`` (``static``, ``fgsm``, ``pgd`` or ``ensemble``) with ℓ∞ budget ``eps``.

    ``static`` attacks a frozen copy of ``fixed_model`` (required); ``fgsm`` and ``pgd`` attack the model they
    are handed, i.e. the model being trained; ``ensemble`` draws (seeded by ``seed``) the source of each
    batch among that model and frozen copies of ``static_models`` (required). ``pgd_steps`` is PGD's K
    (step 2.5·ε/K, random start).
    """
    if method not in ADVERSARIAL_TRAINING_METHODS:
        raise ValueError(f"unknown adversarial training method {method!r}; "
                         f"choose one of {', '.join(ADVERSARIAL_TRAINING_METHODS)}")
    if method == "static":
        if fixed_model is None:
            raise ValueError("the static method needs fixed_model: the model whose adversarial examples are used")
        frozen = copy.deepcopy(fixed_model).eval()
        attack = FGSM(frozen, eps)
        return lambda model, x, y: attack(x, y)
    if method == "fgsm":
        return lambda model, x, y: FGSM(model, eps)(x, y)
    if method == "ensemble":
        if not static_models:
            raise ValueError("ensemble adversarial training needs static_models: pre-trained models whose "
                             "FGSM examples are mixed in")
        statics = [copy.deepcopy(m).eval() for m in static_models]
        draws = torch.Generator().manual_seed(seed)

        def ensemble(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            source = int(torch.randint(len(statics) + 1, (1,), generator=draws))
            return FGSM(model if source == len(statics) else statics[source], eps)(x, y)
        return ensemble
    return lambda model, x, y: PGD(model, eps, steps=pgd_steps)(x, y)
