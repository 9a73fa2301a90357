"""APE-GAN: networks, the loss's known answers, training on real MNIST FGSM examples, the defense as a
differentiable preprocessor (the adaptive attack gets through it), and resuming an interrupted training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.attacks import FGSM, PGD
from gancourse.checkpoints import CheckpointStore, ProgressFile
from gancourse.defenses.ape_gan import (
    APEGAN,
    LECTURE_WEIGHTS,
    OFFICIAL_WEIGHTS,
    APEGANWeights,
    generator_loss,
    spatial_coherence,
    train_ape_gan,
)
from gancourse.evaluate import accuracy
from gancourse.models.ape_gan import APEDiscriminator, APEGenerator
from gancourse.zoo import Zoo


def test_networks_keep_the_shape_and_the_range():
    for side in (28, 32):
        x = torch.rand(3, 1, side, side)
        generator, discriminator = APEGenerator(1).eval(), APEDiscriminator(1, image_size=side)
        out = generator(x)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        assert discriminator(x).shape == (3,)
    with pytest.raises(ValueError, match="multiples of 4"):
        APEGenerator(1)(torch.rand(2, 1, 30, 30))


def test_spatial_coherence_known_answers():
    rows, columns = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    checkerboard = ((rows + columns) % 2).float().view(1, 1, 28, 28)
    stripes = (columns % 2).float().view(1, 1, 28, 28)
    ramp = (columns / 27).float().view(1, 1, 28, 28)
    assert spatial_coherence(torch.full((2, 1, 28, 28), 0.4)).item() == 0.0
    assert spatial_coherence(checkerboard).item() == pytest.approx(2.0)
    assert spatial_coherence(stripes).item() == pytest.approx(1.0)          # only horizontal neighbours differ
    assert spatial_coherence(ramp).item() == pytest.approx(1 / 27)


def test_generator_loss_known_answer_for_both_weightings():
    clean = torch.full((4, 1, 28, 28), 0.5)
    reconstructions = clean + 0.1                                           # MSE 0.01, RMSE 0.1, smooth
    logits = torch.zeros(4)                                                 # D(x̂) = ½: −log ½ = log 2
    lecture = generator_loss(reconstructions, clean, logits, LECTURE_WEIGHTS)
    assert lecture["mse"].item() == pytest.approx(0.01) and lecture["coherence"].item() == 0.0
    assert lecture["loss"].item() == pytest.approx(0.1 * 0.01 + 0.45 * math.log(2))
    official = generator_loss(reconstructions, clean, logits, OFFICIAL_WEIGHTS)
    assert official["loss"].item() == pytest.approx(0.9 * 0.1 + 0.02 * math.log(2))
    with pytest.raises(ValueError, match="same shape"):
        generator_loss(reconstructions[:2], clean, logits, LECTURE_WEIGHTS)
    with pytest.raises(ValueError, match="coherence"):
        APEGANWeights(mse=1.0, adversarial=0.1, coherence=-0.1)
    with pytest.raises(ValueError, match="generator_steps"):
        APEGANWeights(mse=1.0, adversarial=0.1, coherence=0.0, generator_steps=0)


@pytest.mark.slow
def test_ape_gan_removes_fgsm_perturbations_and_falls_to_the_adaptive_attack(mnist):
    bundle, model = mnist
    model.eval()
    torch.manual_seed(0)
    generator, discriminator = APEGenerator(1), APEDiscriminator(1)
    fgsm = FGSM(model, 0.3)
    history = train_ape_gan(generator, discriminator, fgsm, bundle.train_loader, 200, weights=OFFICIAL_WEIGHTS)
    assert sum(history["mse"][-20:]) / 20 < sum(history["mse"][:20]) / 20
    defense = APEGAN(generator)
    x, y = bundle.test_images[:300], bundle.test_labels[:300]
    x_before = x.clone()
    adversarial = fgsm(x, y)
    assert (defense(adversarial) - x).pow(2).mean() < (adversarial - x).pow(2).mean()   # closer to the clean image
    undefended, defended = accuracy(model, adversarial, y), accuracy(model, defense(adversarial), y)
    assert defended > undefended + 0.3, (undefended, defended)
    assert accuracy(model, defense(x), y) > 0.8                                 # the clean-accuracy cost is bounded
    assert torch.equal(x, x_before) and generator.training is False
    pipeline = nn.Sequential(defense, model)
    adaptive = PGD(pipeline, 0.3, steps=20)(x, y)                               # Carlini: differentiate through G
    assert accuracy(pipeline, adaptive, y) < defended - 0.3


def test_interrupted_ape_gan_training_resumes(tmp_path):
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.rand(64, 1, 28, 28), torch.randint(10, (64,))), batch_size=16)
    calls = {"n": 0}

    def noisy_then_interrupted(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt("interrupted")
        return (images + 0.1 * torch.randn_like(images)).clamp(0, 1)

    generator, discriminator = APEGenerator(1), APEDiscriminator(1)
    progress = ProgressFile(tmp_path / "ape.progress.pt", "ape")
    with pytest.raises(KeyboardInterrupt):
        train_ape_gan(generator, discriminator, noisy_then_interrupted, loader, 10, progress=progress, save_every=3)
    saved = progress.load()
    assert saved is not None and len(saved["history"]["d_loss"]) == 6
    calls["n"] = -100
    history = train_ape_gan(generator, discriminator, noisy_then_interrupted, loader, 10, progress=progress,
                            save_every=3)
    assert calls["n"] == -96 and history["d_loss"][:6] == saved["history"]["d_loss"]
    assert progress.load()["step"] == 10


def test_ape_gan_recipe_keys_on_the_weighting(tmp_path):
    import dataclasses

    from gancourse.data import make_loaders
    from gancourse.profiles import PROFILES

    tiny = dataclasses.replace(PROFILES["smoke"], train_size=128, test_size=64, classifier_epochs=1,
                               ape_gan_iterations=3)
    bundle = make_loaders("mnist5k", tiny, seed=0)
    store = CheckpointStore(tmp_path)
    pair, record = Zoo(tiny, bundle, 0, store=store).ape_gan("D")
    assert record.source == "trained" and len(record.metadata["history"]["mse"]) == 3
    assert set(pair) == {"generator", "discriminator"}
    _, official = Zoo(tiny, bundle, 0, store=store).ape_gan("D", weighting="official")
    assert official.path != record.path
    assert Zoo(tiny, bundle, 0, store=store).ape_gan("D")[1].source == "loaded"
    with pytest.raises(ValueError, match="unknown APE-GAN weighting"):
        Zoo(tiny, bundle, 0, store=store).ape_gan("D", weighting="paper")
