"""The adversarial-example detector: the guarded classifier rejects exactly when the detector fires, and a
detector trained on FGSM examples flags them."""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks import FGSM
from gancourse.defenses.detector import GuardedClassifier, detection_scores, train_detector
from gancourse.evaluate import predict


def test_the_guarded_classifier_rejects_exactly_when_the_detector_fires(tiny_convnet):
    classifier = tiny_convnet()
    detector = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    guarded = GuardedClassifier(classifier, detector).eval()
    x = torch.rand(64, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    fires = detection_scores(detector, x) > 0
    predicted = predict(guarded, x)
    assert 0 < fires.sum() < len(x)                                         # both cases occur
    assert torch.equal(predicted == 5, fires)
    assert torch.equal(predicted[~fires], predict(classifier, x)[~fires])


def test_the_detector_learns_to_flag_fgsm_examples(mnist):
    bundle, model = mnist
    attack = FGSM(model, 0.2)
    torch.manual_seed(0)
    detector = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 2))
    losses = train_detector(detector, bundle.train_loader, lambda x, y: attack(x, y), epochs=2)["loss"]
    assert losses[-1] < losses[0]
    x, y = bundle.test_images[:300], bundle.test_labels[:300]
    clean_flagged = (detection_scores(detector, x) > 0).float().mean()
    adversarial_flagged = (detection_scores(detector, attack(x, y)) > 0).float().mean()
    assert adversarial_flagged > 0.9 and clean_flagged < 0.1
