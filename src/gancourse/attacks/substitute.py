"""The black-box substitute attack (Papernot et al. 2017): learn a copy of the model from its answers alone.

The attacker sees only the labels the black box ("oracle") returns. Start from a small seed set S₀ of
images, and for ρ = 0 … rounds − 1:

1. label S_ρ by querying the oracle: Õ(x) for every x in S_ρ;
2. train the substitute F on (S_ρ, Õ(S_ρ));
3. Jacobian-based augmentation (all rounds but the last):
   S_{ρ+1} = S_ρ ∪ { clip_[0,1]( x + λ · sign(∂F_{Õ(x)}(x) / ∂x) ) : x ∈ S_ρ },

so the set doubles each round, growing along the directions in which the substitute's decision changes.
Adversarial examples crafted on F (white-box, e.g. FGSM) are then sent to the oracle: transferability.
The Defense-GAN paper's setting: 150 seed images held out from the test set, 6 rounds, 10 epochs per
round, λ = 0.1, model E as the substitute.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.networks import frozen_eval, input_gradient
from gancourse.train.classifier import train_classifier
from gancourse.train.loop import History
from gancourse.validation import check_count, check_images, check_positive


def jacobian_augmentation(substitute: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                          lam: float) -> torch.Tensor:
    """x + λ · sign(∂F_{label}(x)/∂x), clipped to [0, 1], for every image (the new half of S_{ρ+1})."""
    check_images(images)
    with frozen_eval(substitute):
        rows = torch.arange(len(images), device=images.device)
        gradient = input_gradient(lambda x: substitute(x)[rows, labels].sum(), images)
    return (images + lam * gradient.sign()).clamp(0.0, 1.0)


def train_substitute(
    oracle: Callable[[torch.Tensor], torch.Tensor],
    substitute: nn.Module,
    seed_images: torch.Tensor,
    *,
    rounds: int = 6,
    epochs: int = 10,
    lam: float = 0.1,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> History:
    """Train ``substitute`` in place from ``oracle``'s labels, with Jacobian-based dataset augmentation.

    Args:
        oracle: the black box: images in [0, 1] → predicted labels (nothing else is used).
        substitute: a fresh classifier (logits); trained in place and left in eval mode.
        seed_images: S₀, images the attacker owns (never the oracle's training set).
        rounds, epochs, lam: ρ's count, epochs per round, λ (Papernot et al.: 6, 10, 0.1).
        batch_size: substitute training batch.
        generator: shuffles the training batches (reproducibility).

    Returns:
        Per round: ``queries`` (oracle queries made) and ``set_size`` (the substitute's training-set size).
    """
    check_images(seed_images, "seed_images")
    check_count("rounds", rounds)
    check_count("epochs", epochs)
    check_positive("lam", lam)
    history: History = {"queries": [], "set_size": []}
    images = seed_images.detach().to(device)
    substitute.to(device)
    for round_index in range(rounds):
        labels = oracle(images).to(device)
        history["queries"].append(float(len(images)))
        history["set_size"].append(float(len(images)))
        loader = DataLoader(TensorDataset(images.cpu(), labels.cpu()), batch_size=batch_size, shuffle=True,
                            generator=generator)
        train_classifier(substitute, loader, epochs, lr=1e-3, device=device)
        if round_index < rounds - 1:
            images = torch.cat([images, jacobian_augmentation(substitute, images, labels, lam)])
    return history
