"""Adversarial training: FGSM examples mixed into training raise FGSM accuracy; the adversaries it draws its
examples from (static, the model's own FGSM, the ensemble of static models)."""

from __future__ import annotations

import pytest
import torch

from gancourse.attacks import FGSM
from gancourse.defenses.adversarial_training import make_adversary
from gancourse.evaluate import accuracy
from gancourse.models.classifiers import build_classifier
from gancourse.train.classifier import train_classifier


@pytest.mark.slow
def test_adversarial_training_on_fgsm_examples_raises_fgsm_accuracy(mnist):
    bundle, clean_model = mnist
    torch.manual_seed(0)
    robust = build_classifier("D")
    train_classifier(robust, bundle.train_loader, epochs=5,
                     adversary=lambda model, x, y: FGSM(model, 0.2)(x, y), adversarial_weight=0.5)
    x, y = bundle.test_images, bundle.test_labels
    assert accuracy(robust, FGSM(robust, 0.2)(x, y), y) > accuracy(clean_model, FGSM(clean_model, 0.2)(x, y), y) + 0.2
    with pytest.raises(ValueError, match="adversarial_weight"):
        train_classifier(robust, bundle.train_loader, epochs=1, adversary=lambda m, a, b: a, adversarial_weight=2.0)


def test_adversaries_for_adversarial_training(tiny_convnet):
    fixed, trained = tiny_convnet(), tiny_convnet(classes=5)
    with torch.no_grad():
        trained[-1].weight.mul_(-1)
    x, y = torch.rand(3, 1, 6, 6), torch.tensor([0, 1, 2])
    static = make_adversary("static", 0.1, fixed_model=fixed)
    assert torch.equal(static(trained, x, y), FGSM(fixed, 0.1)(x, y))          # the fixed model's examples
    assert torch.equal(make_adversary("fgsm", 0.1)(trained, x, y), FGSM(trained, 0.1)(x, y))
    with pytest.raises(ValueError, match="fixed_model"):
        make_adversary("static", 0.1)
    with pytest.raises(ValueError, match="unknown adversarial training method"):
        make_adversary("trades", 0.1)


def test_the_ensemble_adversary_mixes_the_model_and_the_static_sources(tiny_convnet):
    trained, first, second = tiny_convnet(), tiny_convnet(), tiny_convnet()
    with torch.no_grad():
        first[-1].weight.mul_(-1)
        second[0].weight.mul_(2)
    x, y = torch.rand(3, 1, 6, 6), torch.tensor([0, 1, 2])
    sources = [FGSM(model, 0.1)(x, y) for model in (first, second, trained)]
    assert not torch.equal(sources[0], sources[2]) and not torch.equal(sources[1], sources[2])
    ensemble = make_adversary("ensemble", 0.1, static_models=[first, second], seed=0)
    outputs = [ensemble(trained, x, y) for _ in range(30)]
    used = [next(i for i, s in enumerate(sources) if torch.equal(out, s)) for out in outputs]
    assert set(used) == {0, 1, 2}          # every source is drawn, and every example is one source's FGSM
    with pytest.raises(ValueError, match="static_models"):
        make_adversary("ensemble", 0.1)
