"""MagNet: the denoising autoencoder learns clean images; the detector's threshold keeps its false-positive
rate; the reformer keeps shape and range; bad settings are rejected."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gancourse.data import make_loaders
from gancourse.defenses.magnet import MagNet, magnet_autoencoder, train_autoencoder
from gancourse.evaluate import roc_auc
from gancourse.profiles import PROFILES

PROFILE = dataclasses.replace(PROFILES["smoke"], train_size=2000, test_size=400, batch_size=64)


@pytest.fixture(scope="module")
def trained():
    """MagNet's autoencoder trained for 8 epochs on 2,000 real MNIST images (~5 s)."""
    bundle = make_loaders("mnist5k", PROFILE, seed=0)
    torch.manual_seed(0)
    autoencoder = magnet_autoencoder()
    losses = train_autoencoder(autoencoder, bundle.train_loader, epochs=8)["loss"]
    return bundle, autoencoder, losses


@pytest.mark.slow
def test_training_lowers_the_reconstruction_error_of_unseen_images(trained):
    bundle, autoencoder, losses = trained
    torch.manual_seed(0)
    untrained = MagNet(magnet_autoencoder())
    assert losses[-1] < losses[0]
    assert MagNet(autoencoder).errors(bundle.test_images).mean() < 0.5 * untrained.errors(bundle.test_images).mean()


@pytest.mark.slow
def test_the_threshold_keeps_the_false_positive_rate_and_noise_is_detected(trained):
    bundle, autoencoder, _ = trained
    magnet = MagNet(autoencoder)
    calibration, held_out = bundle.test_images[:200], bundle.test_images[200:]
    magnet.calibrate(calibration, false_positive_rate=0.05)
    assert magnet.rejects(calibration).float().mean() <= 0.05
    noisy = (held_out + 0.5 * torch.randn_like(held_out)).clamp(0, 1)   # far off the manifold
    assert magnet.rejects(noisy).float().mean() > 0.9
    assert roc_auc(magnet.errors(held_out), magnet.errors(noisy)) > 0.95


@pytest.mark.slow
def test_the_reformer_keeps_shape_range_mode_and_input(trained):
    bundle, autoencoder, _ = trained
    autoencoder.train()
    images = bundle.test_images[:8]
    before = images.clone()
    reformed = MagNet(autoencoder)(images)
    assert reformed.shape == images.shape and 0 <= reformed.min() and reformed.max() <= 1
    assert torch.equal(images, before) and autoencoder.training
    autoencoder.eval()


def test_bad_settings_are_rejected():
    magnet = MagNet(magnet_autoencoder())
    with pytest.raises(ValueError, match="false_positive_rate"):
        magnet.calibrate(torch.rand(4, 1, 28, 28), false_positive_rate=1.0)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        magnet(torch.full((2, 1, 28, 28), 2.0))
    with pytest.raises(ValueError, match="epochs"):
        train_autoencoder(magnet_autoencoder(), [], epochs=0)
