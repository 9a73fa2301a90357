"""Attacks: the contract (range, budget, input/model untouched, batch consistency), known answers,
success on a trained model, bad input, and agreement with torchattacks (installed for tests only)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gancourse.attacks import FGSM, IFGSM, JSMA, PGD, CarliniWagnerL2, DeepFool, RandFGSM, perturbation_norms
from gancourse.attacks.base import cross_entropy_gradient
from gancourse.attacks.cw import cw_margin
from gancourse.attacks.optimise import optimise_input
from gancourse.attacks.substitute import jacobian_augmentation, train_substitute
from gancourse.evaluate import accuracy, attack_success_rate, predict
from gancourse.models.classifiers import build_classifier
from gancourse.networks import frozen_eval


def all_attacks(model: nn.Module, eps: float = 0.1) -> list:
    return [FGSM(model, eps), RandFGSM(model, eps, alpha=eps / 4), PGD(model, eps, steps=3), IFGSM(model, eps, 3),
            DeepFool(model, steps=5), JSMA(model, gamma=0.05), CarliniWagnerL2(model, steps=5, search_steps=2)]


def call(attack, x, y):
    """Untargeted call where supported, else targeted towards the next class."""
    return attack(x, y) if attack.supports_untargeted else attack(x, target=(y + 1) % 5)


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 4), size=st.integers(4, 12), channels=st.sampled_from([1, 3]),
       eps=st.floats(0.001, 0.5), seed=st.integers(0, 2**16))
def test_every_attack_stays_in_the_box_and_the_budget(batch, size, channels, eps, seed, tiny_convnet):
    generator = torch.Generator().manual_seed(seed)
    model = tiny_convnet(channels)
    x = torch.rand(batch, channels, size, size, generator=generator)
    y = torch.randint(0, 5, (batch,), generator=generator)
    for attack in all_attacks(model, eps):
        adversarial = call(attack, x, y)
        assert adversarial.shape == x.shape and adversarial.dtype == x.dtype
        assert adversarial.min() >= 0 and adversarial.max() <= 1, attack
        norms = perturbation_norms(x, adversarial)
        if attack.norm == "linf":
            assert norms["linf"].max() <= attack.eps + 1e-6, attack
        if attack.norm == "l0":
            assert norms["l0"].max() <= attack.budget(x), attack


def test_attacks_leave_input_model_mode_and_gradients_untouched(tiny_convnet):
    model = tiny_convnet()
    model.train()
    model[0].bias.requires_grad_(False)
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 7.0)
    x = torch.rand(3, 1, 8, 8)
    x_copy, y = x.clone(), torch.tensor([0, 1, 2])
    for attack in all_attacks(model):
        call(attack, x, y)
        assert torch.equal(x, x_copy), attack
        assert model.training, attack
        assert not model[0].bias.requires_grad and model[0].weight.requires_grad, attack
        assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters()), attack


def test_frozen_eval_restores_the_state_even_after_an_error(tiny_convnet):
    model = tiny_convnet()
    model.train()
    with pytest.raises(RuntimeError), frozen_eval(model):
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("inside")
    assert model.training and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("make", [
    lambda m: FGSM(m, 0.1), lambda m: IFGSM(m, 0.1, 5), lambda m: DeepFool(m, steps=10),
    lambda m: JSMA(m, gamma=0.05), lambda m: CarliniWagnerL2(m, steps=10, search_steps=2),
], ids=["fgsm", "ifgsm", "deepfool", "jsma", "cw"])
def test_deterministic_attacks_give_each_image_the_same_result_alone_or_in_a_batch(mnist, make):
    bundle, model = mnist
    x, y = bundle.test_images[:6].double(), bundle.test_labels[:6]
    model = model.double()
    try:
        attack = make(model)
        batch = call(attack, x, y)
        for i in range(len(x)):
            alone = call(attack, x[i:i + 1], y[i:i + 1])
            assert torch.allclose(alone[0], batch[i], atol=1e-6), f"image {i}"
    finally:
        model.float()


def test_fgsm_on_a_linear_model_moves_against_the_weight_sign():
    """Known answer. Logits (w·x, 0) with label 0: ∇_x CE = −(1 − p₀) w, so x_adv = x − ε·sign(w)."""
    w = torch.tensor([0.5, -2.0, 1.0, -0.1])
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([w, torch.zeros(4)]))
    x = torch.full((1, 1, 2, 2), 0.5)
    adversarial = FGSM(model, 0.2)(x, torch.tensor([0]))
    assert torch.allclose(adversarial.flatten(), 0.5 - 0.2 * w.sign())
    targeted = FGSM(model, 0.2)(x, target=torch.tensor([1]))
    assert torch.allclose(targeted.flatten(), 0.5 - 0.2 * w.sign())


def test_deepfool_on_a_linear_binary_model_lands_on_the_boundary_distance():
    """Known answer. For f(x) = (w·x + b, 0) the distance to the boundary is |w·x + b| / ‖w‖: DeepFool
    needs one step, of that length (plus its 1e-4 and the 2% overshoot)."""
    w = torch.tensor([0.3, -0.4, 0.0, 0.0])
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([w, torch.zeros(4)]))
        model[1].bias.copy_(torch.tensor([0.1, 0.0]))
    x = torch.tensor([[[[0.6, 0.2], [0.5, 0.5]]]])
    distance = (w @ x.flatten() + 0.1).abs() / w.norm()
    adversarial = DeepFool(model, steps=5)(x, torch.tensor([0]))
    assert predict(model, adversarial).item() == 1
    step = (adversarial - x).norm()
    assert torch.isclose(step, 1.02 * (distance + 1e-4), rtol=1e-4)


def test_cw_margin_known_values():
    logits = torch.tensor([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]])
    labels = torch.tensor([1, 2])
    assert torch.allclose(cw_margin(logits, labels, targeted=True), torch.tensor([0.0, 4.0]))   # floored at −κ = 0
    assert torch.allclose(cw_margin(logits, labels, targeted=True, kappa=float("inf")), torch.tensor([-1.0, 4.0]))
    assert torch.allclose(cw_margin(logits, labels, targeted=False), torch.tensor([1.0, 0.0]))
    assert torch.allclose(cw_margin(logits, labels, targeted=False, kappa=2.0), torch.tensor([1.0, -2.0]))


@pytest.mark.slow
def test_attacks_succeed_on_a_trained_model(mnist):
    """Bars with room to spare for MNIST model D (ε = 0.3, the MNIST budget); measured values are higher."""
    bundle, model = mnist
    spread = torch.randperm(len(bundle.test_images), generator=torch.Generator().manual_seed(0))[:100]
    x, y = bundle.test_images[spread], bundle.test_labels[spread]   # the test set is sorted by digit
    target = (y + 1) % 10
    assert accuracy(model, x, y) > 0.85
    assert attack_success_rate(model, x, PGD(model, 0.3, steps=20)(x, target=target), y, target) > 0.9
    assert attack_success_rate(model, x, JSMA(model)(x, target=target), y, target) > 0.6
    assert attack_success_rate(model, x, CarliniWagnerL2(model, steps=50, search_steps=4, lr=0.5)(
        x, target=target), y, target) > 0.9
    assert attack_success_rate(model, x, FGSM(model, 0.3)(x, y), y) > 0.5
    deepfool = DeepFool(model)(x, y)
    assert attack_success_rate(model, x, deepfool, y) > 0.95
    fgsm_l2 = perturbation_norms(x, FGSM(model, 0.3)(x, y))["l2"].mean()
    assert perturbation_norms(x, deepfool)["l2"].mean() < fgsm_l2 / 2


def test_pgd_is_at_least_as_strong_as_fgsm_with_the_same_budget(mnist):
    bundle, model = mnist
    x, y = bundle.test_images[:200], bundle.test_labels[:200]
    assert accuracy(model, PGD(model, 0.1, steps=20)(x, y), y) <= accuracy(model, FGSM(model, 0.1)(x, y), y)


def test_cw_finds_smaller_perturbations_as_the_search_goes_on(mnist):
    bundle, model = mnist
    x, y = bundle.test_images[:40], bundle.test_labels[:40]
    one = perturbation_norms(x, CarliniWagnerL2(model, steps=50, search_steps=1, initial_const=10.0)(x, y))["l2"]
    four = perturbation_norms(x, CarliniWagnerL2(model, steps=50, search_steps=4, initial_const=10.0)(x, y))["l2"]
    fooled = (one > 0) & (four > 0)
    assert fooled.sum() > 30 and four[fooled].mean() < one[fooled].mean()


@pytest.mark.parametrize("images, labels, message", [
    (torch.rand(2, 1, 4, 4) * 2, torch.tensor([0, 1]), "must lie in \\[0, 1\\]"),
    (torch.full((2, 1, 4, 4), float("nan")), torch.tensor([0, 1]), "NaN"),
    (torch.rand(1, 4, 4), torch.tensor([0]), "N×C×H×W"),
    (torch.randint(0, 255, (2, 1, 4, 4), dtype=torch.uint8), torch.tensor([0, 1]), "floats"),
    (torch.rand(2, 1, 4, 4), torch.tensor([0, 1, 2]), "one class index per image"),
    (torch.rand(2, 1, 4, 4), torch.tensor([0.0, 1.0]), "integer class indices"),
    (torch.rand(2, 1, 4, 4), torch.tensor([0, 9]), "only 5 classes"),
    (torch.rand(2, 1, 4, 4), torch.tensor([-1, 0]), "non-negative"),
])
def test_bad_input_is_rejected_with_a_clear_message(images, labels, message, tiny_convnet):
    with pytest.raises(ValueError, match=message):
        FGSM(tiny_convnet(), 0.1)(images, labels)


def test_bad_configuration_and_calls_are_rejected(tiny_convnet):
    model, x, y = tiny_convnet(), torch.rand(2, 1, 4, 4), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="eps must be non-negative"):
        FGSM(model, -0.1)
    with pytest.raises(ValueError, match="steps must be an integer"):
        PGD(model, 0.1, steps=0)
    with pytest.raises(ValueError, match="smaller than eps"):
        RandFGSM(model, 0.1, alpha=0.2)
    with pytest.raises(ValueError, match="but not both"):
        FGSM(model, 0.1)(x, y, target=y)
    with pytest.raises(ValueError, match="but not both"):
        FGSM(model, 0.1)(x)
    with pytest.raises(ValueError, match="untargeted only"):
        DeepFool(model)(x, target=y)
    with pytest.raises(ValueError, match="targeted only"):
        JSMA(model)(x, y)
    with pytest.raises(ValueError, match="gamma"):
        JSMA(model, gamma=0.0)
    with pytest.raises(TypeError, match="nn.Module"):
        FGSM(lambda inputs: inputs, 0.1)


def test_success_rate_counts_only_correctly_classified_images():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]]))
        model[1].bias.zero_()
    # logits (x₀, 0): a first pixel of 0.9 gives class 0; a first pixel of 0 ties, and argmax picks class 0
    clean = torch.tensor([0.9, 0.0, 0.9]).view(3, 1, 1, 1).expand(3, 1, 2, 2).contiguous()
    labels = torch.tensor([0, 0, 1])   # images 0 and 1 are classified correctly, image 2 is not
    adversarial = torch.zeros_like(clean)
    assert predict(model, clean).tolist() == [0, 0, 0] and predict(model, adversarial).tolist() == [0, 0, 0]
    # counted over all images, image 2 would be a success (1/3); over the correct ones nothing was fooled
    assert attack_success_rate(model, clean, adversarial, labels) == 0.0
    with pytest.raises(ValueError, match="target ≠ label"):
        attack_success_rate(model, clean, adversarial, labels, target=labels)


def test_optimisation_from_noise_reaches_the_class_and_closeness_keeps_the_image_near(mnist):
    bundle, model = mnist
    torch.manual_seed(0)
    noise = torch.rand(8, 1, 28, 28)
    target = torch.arange(8)
    fooled, history = optimise_input(model, noise, target, steps=100, lr=0.05)
    assert (predict(model, fooled) == target).float().mean() >= 0.75 and history[-1] < history[0]
    real = bundle.test_images[:8]
    free, _ = optimise_input(model, real, target, steps=100, lr=0.05)
    close, _ = optimise_input(model, real, target, steps=100, lr=0.05, closeness=0.05, anchor=real)
    assert (close - real).norm() < (free - real).norm()
    with pytest.raises(ValueError, match="anchor"):
        optimise_input(model, real, target, closeness=1.0)


def test_fgsm_and_pgd_agree_with_torchattacks(mnist):
    torchattacks = pytest.importorskip("torchattacks")
    bundle, model = mnist
    x, y = bundle.test_images[:64], bundle.test_labels[:64]
    ours = FGSM(model, 0.1)(x, y)
    theirs = torchattacks.FGSM(model, eps=0.1)(x, y)
    assert torch.allclose(ours, theirs, atol=1e-6)
    ours = PGD(model, 0.1, steps=10, alpha=0.02, random_start=False)(x, y)
    theirs = torchattacks.PGD(model, eps=0.1, alpha=0.02, steps=10, random_start=False)(x, y)
    assert (ours - theirs).abs().max() < 1e-5
    torch.manual_seed(0)
    ours_random = PGD(model, 0.1, steps=10, alpha=0.02)(x, y)
    torch.manual_seed(0)
    theirs_random = torchattacks.PGD(model, eps=0.1, alpha=0.02, steps=10, random_start=True)(x, y)
    assert abs(accuracy(model, ours_random, y) - accuracy(model, theirs_random, y)) <= 0.05


def test_cross_entropy_gradient_is_per_image(tiny_convnet):
    """Summed, not averaged: attacking one image alone or in a batch gives the same gradient scale."""
    model = tiny_convnet()
    model.eval()
    x, y = torch.rand(3, 1, 6, 6, requires_grad=True), torch.tensor([0, 1, 2])
    F.cross_entropy(model(x), y, reduction="sum").backward()
    with frozen_eval(model):
        assert torch.allclose(cross_entropy_gradient(model, x.detach()[:1], y[:1]), x.grad[:1])


def test_jacobian_augmentation_doubles_the_set_within_lambda_and_the_box(mnist):
    bundle, model = mnist
    x = bundle.test_images[:10]
    labels = predict(model, x)
    augmented = jacobian_augmentation(model, x, labels, lam=0.1)
    assert augmented.shape == x.shape and augmented.min() >= 0 and augmented.max() <= 1
    assert (augmented - x).abs().max() <= 0.1 + 1e-6 and (augmented != x).any()


def test_the_substitute_learns_the_black_box_from_labels_alone(mnist):
    bundle, oracle = mnist
    seeds = bundle.train_images[torch.randperm(len(bundle.train_images), generator=torch.Generator().manual_seed(0))[:150]]
    queried = []

    def black_box(images):
        queried.append(len(images))
        return predict(oracle, images)

    torch.manual_seed(0)
    substitute = build_classifier("E")
    history = train_substitute(black_box, substitute, seeds, rounds=4, epochs=5,
                               generator=torch.Generator().manual_seed(0))
    assert history["set_size"] == [150, 300, 600, 1200] and sum(history["queries"]) == sum(queried) == 2250
    x = bundle.test_images
    assert (predict(substitute, x) == predict(oracle, x)).float().mean() > 0.6
