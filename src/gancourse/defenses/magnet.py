"""MagNet (Meng & Chen 2017): an autoencoder trained on clean images serves as a detector and a reformer.

The autoencoder AE learns the manifold of clean images by minimising (noise of volume σ = 0.1 during
training, as in the paper)

    L(AE) = E_x ‖AE(x + σ·n) − x‖₂² / d,     n ~ N(0, I), clipped to [0, 1].

*Detector*: reject x when its reconstruction error e(x) = ‖AE(x) − x‖₂² / d exceeds a threshold τ, chosen
so that a fraction ``false_positive_rate`` of clean validation images would be rejected.
*Reformer*: the classifier sees AE(x), which moves a nearby off-manifold input back towards the manifold.
This is MagNet's MNIST design reduced to one detector (reconstruction error, ℓ2) plus the reformer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import ProgressFile
from gancourse.defenses.base import Preprocessor, ThresholdDetector, input_channels
from gancourse.train.loop import History, TrainingRun, minimise
from gancourse.validation import check_count, check_positive


def magnet_autoencoder(channels: int = 1) -> nn.Sequential:
    """MagNet's MNIST autoencoder: Conv 3×3 (3 filters, sigmoid) → AvgPool 2 → Conv 3×3 (3, sigmoid)
    → Conv 3×3 (3, sigmoid) → Upsample 2 → Conv 3×3 (3, sigmoid) → Conv 3×3 (channels, sigmoid)."""
    return nn.Sequential(
        nn.Conv2d(channels, 3, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid(),
        nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid(), nn.Upsample(scale_factor=2),
        nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid(),
        nn.Conv2d(3, channels, 3, padding=1), nn.Sigmoid(),
    )


def train_autoencoder(autoencoder: nn.Module, loader: DataLoader, epochs: int, *, noise: float = 0.1,
                      lr: float = 1e-2, device: torch.device | str = "cpu",
                      progress: ProgressFile | None = None) -> History:
    """Minimise the denoising loss of the module docstring with Adam; returns ``{"loss": [...]}``, every
    epoch's mean loss.
    The default lr is 1e-2: with 1e-3 the all-sigmoid network sits at the mean image for tens of epochs.
    Resumable through ``progress`` like the classifiers."""
    check_count("epochs", epochs)
    check_positive("noise", noise, allow_zero=True)
    autoencoder.to(device)
    run = TrainingRun({"autoencoder": autoencoder,
                       "optimiser_autoencoder": torch.optim.Adam(autoencoder.parameters(), lr=lr)}, epochs,
                      progress=progress, save_every=1, description="MagNet autoencoder epochs")
    optimiser = run.parts["optimiser_autoencoder"]
    for _epoch in run:
        autoencoder.train()
        total, seen = 0.0, 0
        for images, _labels in loader:
            images = images.to(device)
            noisy = (images + noise * torch.randn_like(images)).clamp(0, 1)
            loss = minimise(optimiser, F.mse_loss(autoencoder(noisy), images))
            total, seen = total + loss * len(images), seen + len(images)
        run.log(loss=total / seen)
    return run.finish(autoencoder)


class MagNet(Preprocessor, ThresholdDetector):
    """Detector + reformer around a trained autoencoder. ``forward(x)`` is the reformer AE(x)
    (a ``differentiable`` :class:`~gancourse.defenses.base.Preprocessor`), so ``classifier(magnet(x))`` is the
    reformed classifier; as a :class:`~gancourse.defenses.base.ThresholdDetector` its scores are the
    reconstruction errors e(x) and :meth:`rejects` is the detector.

    Args:
        autoencoder: trained on clean images (:func:`train_autoencoder`).
        threshold: τ ≥ 0 (errors are never negative; NaN is refused); +∞, the default, turns the detector off
            until :meth:`calibrate` sets τ.
    """

    differentiable = True
    score_floor = 0.0

    def __init__(self, autoencoder: nn.Module, threshold: float = float("inf")) -> None:
        super().__init__(input_channels(autoencoder))
        self.autoencoder = autoencoder
        self.threshold = threshold

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        return self.autoencoder(images)

    def errors(self, images: torch.Tensor) -> torch.Tensor:
        """e(x) = ‖AE(x) − x‖₂² / d per image, on the images' device."""
        with torch.no_grad():
            return (self(images) - images).flatten(1).pow(2).mean(1)

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        """The detection scores: the reconstruction errors e(x) of :meth:`errors`."""
        return self.errors(images)


class GuardedMagNet(nn.Module):
    """MagNet's whole decision as one network for an adaptive attacker (Carlini & Wagner 2017, "MagNet and
    'Efficient Defenses …' are not robust"): the reformed classifier's K logits f(AE(x)) and a "rejected"
    logit that beats them exactly when the detector rejects x,

        z_K(x) = max_j f(AE(x))_j + scale · (e(x) − τ) / τ,      e(x) = ‖AE(x) − x‖₂² / d,

    differentiable through both the reformer and the detector (−∞ while the detector is off, τ = +∞)."""

    def __init__(self, classifier: nn.Module, magnet: MagNet, scale: float = 10.0) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.classifier, self.magnet, self.scale = classifier, magnet, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reformed = self.magnet(x)
        logits = self.classifier(reformed)
        threshold = self.magnet.threshold
        if threshold == float("inf"):
            reject = torch.full_like(logits[:, 0], float("-inf"))
        else:
            error = (reformed - x).flatten(1).pow(2).mean(1)
            reject = logits.amax(1) + self.scale * (error - threshold) / max(threshold, 1e-12)
        return torch.cat([logits, reject.unsqueeze(1)], dim=1)
