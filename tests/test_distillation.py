"""Defensive distillation: the loss's known values, and on real MNIST the gradient masking it is known for —
cross-entropy gradients that vanish at T = 1, FGSM that fails, C&W on the logits that does not."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gancourse.attacks import FGSM, CarliniWagnerL2
from gancourse.attacks.base import cross_entropy_gradient
from gancourse.evaluate import accuracy, attack_success_rate
from gancourse.losses import distillation_loss
from gancourse.models.classifiers import build_classifier
from gancourse.train.classifier import train_at_temperature


def test_distillation_loss_known_values():
    student = torch.tensor([[2.0, 0.0]])
    uniform_teacher = torch.zeros(1, 2)
    # soft labels (½, ½): L = −½ (log σ(2/T) + log σ(−2/T)), here T = 2
    expected = -0.5 * (math.log(1 / (1 + math.exp(-1.0))) + math.log(1 / (1 + math.exp(1.0))))
    assert distillation_loss(student, uniform_teacher, 2.0).item() == pytest.approx(expected, rel=1e-6)
    confident_teacher = torch.tensor([[0.0, 1e4]])                # soft labels one-hot on class 1
    assert distillation_loss(student, confident_teacher, 2.0).item() == pytest.approx(
        F.cross_entropy(student / 2.0, torch.tensor([1])).item(), rel=1e-6)
    with pytest.raises(ValueError, match="differ in shape"):
        distillation_loss(student, torch.zeros(1, 3), 2.0)


def test_at_temperature_one_the_distilled_model_masks_its_gradients_and_cw_still_breaks_it(mnist):
    bundle, normal = mnist
    torch.manual_seed(0)
    teacher = build_classifier("D")
    train_at_temperature(teacher, bundle.train_loader, epochs=3, temperature=100.0)
    student = build_classifier("D")
    train_at_temperature(student, bundle.train_loader, epochs=3, temperature=100.0, teacher=teacher)
    x, y = bundle.test_images[:200], bundle.test_labels[:200]
    assert accuracy(student.eval(), x, y) > 0.85

    def vanished(model):
        gradient = cross_entropy_gradient(model.eval(), x, y)
        return (gradient.flatten(1).abs().amax(1) == 0).float().mean().item()

    assert vanished(student) > 0.5 and vanished(normal) < 0.05            # softmax saturated at T = 1
    assert accuracy(student, FGSM(student, 0.3)(x, y), y) > accuracy(normal, FGSM(normal, 0.3)(x, y), y) + 0.3
    assert attack_success_rate(student, x, CarliniWagnerL2(student, steps=50)(x, y), y) > 0.9
