"""Supervised training of a classifier — plain, on adversarial examples, or at a softmax temperature for defensive
distillation — resumable epoch by epoch."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import ProgressFile
from gancourse.losses import distillation_loss
from gancourse.train.loop import History, TrainingRun, minimise
from gancourse.validation import check_count, check_positive


def train_classifier(
    model: nn.Module,
    loader: DataLoader,
    epochs: int,
    *,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    progress: ProgressFile | None = None,
    adversary: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    adversarial_weight: float = 0.5,
) -> History:
    """Minimise the cross-entropy  L(θ) = −E_(x,y) log softmax(f_θ(x))_y  with Adam; with an adversary,
    the adversarial objective of Goodfellow et al. (2015) and Madry et al. (2018)

        L(θ) = (1 − w) · CE(f_θ(x), y) + w · CE(f_θ(x_adv), y),   x_adv = adversary(f_θ, x, y),

    w = ``adversarial_weight`` (Goodfellow et al.: 0.5 with FGSM; Madry et al.: 1, PGD examples only).

    Args:
        model: a classifier that outputs logits; trained in place, left in eval mode.
        loader: yields (images in [0, 1], int64 labels).
        epochs: passes over ``loader``.
        lr: Adam's learning rate (the Defense-GAN paper trains its classifiers with 1e-3).
        device: where to train.
        progress: if given, the state after every epoch is saved there and a rerun resumes from it
            (:class:`gancourse.train.loop.TrainingRun`).
        adversary: builds adversarial versions of each batch against the model being trained.
        adversarial_weight: w above, in [0, 1].

    Returns:
        ``{"loss": [...], "accuracy": [...]}``, the mean training loss and accuracy of every epoch.
    """
    if not 0 <= adversarial_weight <= 1:  # also rejects NaN
        raise ValueError(f"adversarial_weight must be in [0, 1], got {adversarial_weight}")

    def objective(images: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, labels)
        if adversary is None:
            return loss
        adversarial_loss = F.cross_entropy(model(adversary(model, images, labels)), labels)
        return (1 - adversarial_weight) * loss + adversarial_weight * adversarial_loss
    return _fit(model, loader, epochs, objective, lr, device, progress)


def train_at_temperature(
    model: nn.Module,
    loader: DataLoader,
    epochs: int,
    temperature: float,
    *,
    teacher: Callable[[torch.Tensor], torch.Tensor] | None = None,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    progress: ProgressFile | None = None,
) -> History:
    """Defensive distillation's two trainings (Papernot et al. 2016), with Adam, at softmax temperature T:

        teacher (``teacher`` None):  minimise CE(softmax(f_θ(x)/T), y)
        student (``teacher`` = g):   minimise −Σ_k softmax(g(x)/T)_k · log softmax(f_θ(x)/T)_k

    The student's labels are the teacher's soft probabilities at the same T (``teacher`` returns logits and is
    run without gradients). Deployed at T = 1, the student's logits are about T times larger than at training:
    the softmax saturates, which is the whole of the defense (:mod:`gancourse.losses` has the loss).
    Arguments as for :func:`train_classifier`; returns the loss and accuracy of every epoch."""
    check_positive("temperature", temperature)

    def objective(images: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        if teacher is None:
            return F.cross_entropy(logits / temperature, labels)
        with torch.no_grad():
            soft_logits = teacher(images)
        return distillation_loss(logits, soft_logits, temperature)
    return _fit(model, loader, epochs, objective, lr, device, progress)


def _fit(model: nn.Module, loader: DataLoader, epochs: int,
         objective: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], lr: float,
         device: torch.device | str, progress: ProgressFile | None) -> History:
    """Adam on ``objective(images, labels, logits)`` for ``epochs`` passes; logs loss and accuracy per epoch."""
    check_count("epochs", epochs)
    check_positive("lr", lr)
    model.to(device)
    run = TrainingRun({"model": model, "optimiser_model": torch.optim.Adam(model.parameters(), lr=lr)}, epochs,
                      progress=progress, save_every=1, description="classifier epochs")
    optimiser = run.parts["optimiser_model"]
    for _epoch in run:
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += minimise(optimiser, objective(images, labels, logits)) * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
        run.log(loss=total_loss / seen, accuracy=correct / seen)
    return run.finish(model)
