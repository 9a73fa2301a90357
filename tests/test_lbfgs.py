"""Szegedy et al.'s L-BFGS attack: the exact minimum distance on a linear model, the box, targets reached on a
trained network, and the calling contract."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancourse.attacks.lbfgs import LBFGSAttack
from gancourse.evaluate import predict


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).double().eval()


def test_on_a_linear_model_it_finds_nearly_the_exact_distance_to_the_boundary():
    """For logits z = Wx + b the nearest point of the other class is at distance |(w₁−w₀)·x + b₁−b₀| / ‖w₁−w₀‖
    (the box does not bind for images in [0.3, 0.7] and small steps)."""
    model = linear_model()
    images = (0.3 + 0.4 * torch.rand(20, 1, 4, 4, generator=torch.Generator().manual_seed(1))).double()
    weight, bias = model[1].weight.detach(), model[1].bias.detach()
    target = 1 - predict(model, images)                              # the other class
    sign = (2 * target - 1).double()                                 # +1: towards class 1, −1: towards class 0
    normal, offset = weight[1] - weight[0], bias[1] - bias[0]
    exact = -(sign * (images.flatten(1) @ normal + offset)) / normal.norm()
    assert (exact > 0).all()
    adversarial = LBFGSAttack(model, steps=100, search_steps=10)(images, target=target)
    found = (adversarial - images).flatten(1).norm(dim=1)
    assert (predict(model, adversarial) == target).all()
    assert (found >= exact * (1 - 1e-6)).all()                      # nothing can be closer than the boundary
    assert (found <= exact * 1.25 + 1e-3).all()                     # and the search gets near it


def test_it_reaches_targets_on_a_trained_network_inside_the_box_and_leaves_the_input(mnist):
    bundle, model = mnist
    x = bundle.test_images[:32]
    target = (bundle.test_labels[:32] + 1) % 10
    before = x.clone()
    adversarial = LBFGSAttack(model, steps=30, search_steps=4)(x, target=target)
    assert torch.equal(x, before)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    reached = predict(model, adversarial) == target
    assert reached.float().mean() >= 0.9
    unchanged = (adversarial - x).flatten(1).norm(dim=1) == 0
    assert (reached | unchanged).all()                              # a failure is returned untouched


def test_it_is_targeted_only_and_checks_its_settings():
    model = linear_model().float()
    with pytest.raises(ValueError, match="targeted only"):
        LBFGSAttack(model)(torch.rand(2, 1, 4, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="steps"):
        LBFGSAttack(model, steps=0)
