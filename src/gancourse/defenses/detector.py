"""The article's "safety net": a second network that tells clean inputs from adversarial ones.

The detector d is a binary classifier (logits for *clean* and *adversarial*) trained on clean images and
on adversarial examples of the classifier f it guards. The guarded classifier rejects an input when
d says adversarial. To attack both at once (Carlini & Wagner 2017, "Adversarial examples are not easily
detected"), combine them into one network with K + 1 outputs,

    G(x)_k = f(x)_k  (k < K),      G(x)_K = max_j f(x)_j + (d(x)_adv − d(x)_clean),

so argmax G = K ("rejected") exactly when the detector flags x, and otherwise argmax G = argmax f.
A targeted attack on G towards a wrong class t < K must fool f *and* keep the detector quiet.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import ProgressFile
from gancourse.defenses.base import ThresholdDetector
from gancourse.networks import frozen_eval, model_device
from gancourse.train.loop import History, TrainingRun, minimise
from gancourse.validation import check_count, check_images

CLEAN, ADVERSARIAL = 0, 1


def detector_network() -> nn.Sequential:
    """A small CNN for 28×28×1 inputs with two logits (clean, adversarial): model A's layout, 2 outputs."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(),                # 32×28×28
        nn.Conv2d(32, 64, 5, stride=2), nn.ReLU(),                # 64×12×12
        nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(),
        nn.Linear(128, 2),
    )


def train_detector(detector: nn.Module, loader: DataLoader,
                   make_adversarial: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], epochs: int, *,
                   lr: float = 1e-3, device: torch.device | str = "cpu",
                   progress: ProgressFile | None = None) -> History:
    """Train ``detector`` on every batch twice over: the clean images (label 0) and
    ``make_adversarial(images, labels)`` (label 1). Returns ``{"loss": [...]}``, the mean loss of every
    epoch; resumable."""
    check_count("epochs", epochs)
    detector.to(device)
    run = TrainingRun({"detector": detector, "optimiser_detector": torch.optim.Adam(detector.parameters(), lr=lr)},
                      epochs, progress=progress, save_every=1, description="detector epochs")
    optimiser = run.parts["optimiser_detector"]
    for _epoch in run:
        detector.train()
        total, seen = 0.0, 0
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            inputs = torch.cat([images, make_adversarial(images, labels)])
            kinds = torch.cat([torch.full((len(images),), CLEAN), torch.full((len(images),), ADVERSARIAL)])
            loss = minimise(optimiser, F.cross_entropy(detector(inputs), kinds.to(device)))
            total, seen = total + loss * len(inputs), seen + len(inputs)
        run.log(loss=total / seen)
    return run.finish(detector)


def detection_scores(detector: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """d(x)_adv − d(x)_clean per image, on the images' device: > 0 means "adversarial". The detector runs
    frozen in eval mode on its own device."""
    check_images(images)
    with torch.no_grad(), frozen_eval(detector):
        logits = detector(images.to(model_device(detector)))
    return (logits[:, ADVERSARIAL] - logits[:, CLEAN]).to(images.device)


class SafetyNet(nn.Module, ThresholdDetector):
    """The detector network d as a detecting defense (:class:`~gancourse.defenses.base.ThresholdDetector`):
    its scores are :func:`detection_scores`, and the default threshold τ = 0 is d's own decision (reject
    when the *adversarial* logit wins). Scores are logit differences, so any τ > −∞ is meaningful;
    :meth:`calibrate` sets τ from a false-positive rate on clean images instead.

    Args:
        network: d, two logits (clean, adversarial) per image, trained by :func:`train_detector`.
        threshold: τ (NaN and −∞ are refused; +∞ turns the detector off).
    """

    def __init__(self, network: nn.Module, threshold: float = 0.0) -> None:
        super().__init__()
        self.network = network
        self.threshold = threshold

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        return detection_scores(self.network, images)


class GuardedClassifier(nn.Module):
    """f guarded by d, as one network with K + 1 logits; class K means "rejected by the detector"."""

    def __init__(self, classifier: nn.Module, detector: nn.Module) -> None:
        super().__init__()
        self.classifier, self.detector = classifier, detector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(x)
        detector_logits = self.detector(x)
        reject = logits.amax(1) + detector_logits[:, ADVERSARIAL] - detector_logits[:, CLEAN]
        return torch.cat([logits, reject.unsqueeze(1)], dim=1)
