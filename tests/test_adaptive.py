"""The adaptive attack: the margin loss's known values, first success kept, restarts only for the images
not yet fooled, E gradient samples per step, strength against PGD, and MagNet guarded as one network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancourse.attacks import PGD, AdaptivePGD
from gancourse.attacks.adaptive import margin_loss
from gancourse.defenses.magnet import GuardedMagNet, MagNet, magnet_autoencoder
from gancourse.evaluate import accuracy, predict


def test_margin_loss_known_values():
    logits = torch.tensor([[1.0, 3.0, 2.0], [4.0, 0.0, 1.0]])
    labels = torch.tensor([0, 0])
    assert torch.equal(margin_loss(logits, labels, 3), torch.tensor([2.0, -3.0]))
    # with a "rejected" column (class 2 of 3 logits): it counts against the attacker like the true class
    assert torch.equal(margin_loss(torch.tensor([[1.0, 3.0, 5.0]]), torch.tensor([0]), 2), torch.tensor([-2.0]))
    with pytest.raises(ValueError, match="classes must be between 2"):
        margin_loss(logits, labels, 4)


class Counting(nn.Module):
    """A linear classifier that counts its forward passes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


def misclassified(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Labels the model gets wrong on every image (the class after its prediction): every margin is positive,
    so every image is a candidate the defense is asked about."""
    return (predict(model, images) + 1) % 3


def test_the_first_success_under_the_defenses_decision_is_kept_and_ends_the_work_on_that_image():
    model, images = Counting(), torch.rand(6, 1, 4, 4)
    labels = misclassified(model, images)
    seen = []

    def always(x, y):
        seen.append(x.clone())
        return torch.ones(len(x), dtype=torch.bool)

    adversarial = AdaptivePGD(model, 0.01, steps=5, restarts=3, fooled=always)(images, labels)
    assert len(seen) == 1 and len(seen[0]) == 6        # judged once, at the random start; no step, no restart
    assert torch.equal(adversarial, seen[0])
    assert (adversarial - images).abs().max() <= 0.01 + 1e-6


def test_with_several_judge_calls_an_image_is_fooled_only_if_every_call_says_so():
    """EOT in the success test: a randomised defense's one lucky call does not end the work on an image. The
    second call fools only the even images, so the third is asked only about them, and only they are done."""
    model, images = Counting(), torch.rand(6, 1, 4, 4)
    labels = misclassified(model, images)
    sizes = []

    def flaky(x, y):
        sizes.append(len(x))
        if len(sizes) == 2:
            return torch.arange(len(x)) % 2 == 0
        return torch.ones(len(x), dtype=torch.bool) if len(sizes) <= 3 else torch.zeros(len(x), dtype=torch.bool)

    AdaptivePGD(model, 0.01, steps=1, restarts=1, fooled=flaky, judge_calls=3)(images, labels)
    assert sizes[:3] == [6, 6, 3]                      # the random start: call 1 on all, 2 on all, 3 on the evens
    assert sizes[3] == 3                               # the last step: only the three odd images are still worked on


def test_judge_calls_need_a_judge():
    with pytest.raises(ValueError, match="judge_calls > 1 needs a fooled judge"):
        AdaptivePGD(Counting(), 0.1, judge_calls=2)


def test_later_restarts_work_only_on_the_images_not_yet_fooled():
    model, images = Counting(), torch.rand(6, 1, 4, 4)
    labels = misclassified(model, images)
    sizes = []

    def evens(x, y):
        sizes.append(len(x))
        return torch.arange(len(x)) % 2 == 0 if len(x) == 6 else torch.zeros(len(x), dtype=torch.bool)

    AdaptivePGD(model, 0.01, steps=2, restarts=2, fooled=evens)(images, labels)
    assert sizes == [6, 3, 3, 3, 3, 3]                 # restart 1: steps 0-2 (3 left after step 0); restart 2: 3


def test_the_defense_judges_only_candidates_before_a_restarts_last_step():
    """Correct labels and a tiny budget: no image's margin turns positive, so the (costly) defense is asked
    nothing until the last step of each restart, and then about every image still unsolved."""
    model, images = Counting(), torch.rand(6, 1, 4, 4)
    labels = predict(model, images)
    sizes = []

    def never(x, y):
        sizes.append(len(x))
        return torch.zeros(len(x), dtype=torch.bool)

    AdaptivePGD(model, 1e-4, steps=4, restarts=2, fooled=never)(images, labels)
    assert sizes == [6, 6]


def test_each_step_averages_eot_samples_gradients():
    model, images = Counting(), torch.rand(4, 1, 4, 4)
    labels = predict(model, images)
    model.calls = 0
    AdaptivePGD(model, 0.1, steps=3, eot_samples=4, fooled=lambda x, y: torch.zeros(len(x), dtype=torch.bool))(
        images, labels)
    assert model.calls == 1 + 3 * 4 + 1                # class count, 3 steps × 4 samples, the last point's margin


def test_without_a_judge_a_rejection_is_not_a_success():
    """A target whose "rejected" logit (the 4th) always wins: the attack has nothing to keep but its best
    margin, and it never reports the rejected class as a fooled one."""

    class AlwaysRejects(nn.Module):
        def forward(self, x):
            logits = x.flatten(1)[:, :3] * 10
            return torch.cat([logits, logits.amax(1, keepdim=True) + 100], dim=1)

    images, labels = torch.rand(5, 1, 4, 4), torch.zeros(5, dtype=torch.long)
    attack = AdaptivePGD(AlwaysRejects(), 0.05, steps=3, classes=3)
    adversarial = attack(images, labels)
    assert (margin_loss(AlwaysRejects()(adversarial), labels, 3) < 0).all()


@pytest.mark.slow
def test_the_adaptive_attack_is_at_least_as_strong_as_pgd_with_the_same_steps(mnist):
    bundle, model = mnist
    x, y = bundle.test_images[:200], bundle.test_labels[:200]
    pgd = accuracy(model, PGD(model, 0.1, steps=10)(x, y), y)
    adaptive = accuracy(model, AdaptivePGD(model, 0.1, steps=10, restarts=2)(x, y), y)
    assert adaptive <= pgd


def test_the_autoattack_row_keeps_the_budget_and_is_at_least_as_strong_as_fgsm(mnist):
    pytest.importorskip("torchattacks")
    from gancourse.attacks import FGSM
    from gancourse.robustness import autoattack_pair

    bundle, model = mnist
    x, y = bundle.test_images[:100], bundle.test_labels[:100]
    before = x.clone()
    adversarial = autoattack_pair(model, 0.1, steps=20)(x, y)
    assert torch.equal(x, before)
    assert (adversarial - x).abs().max() <= 0.1 + 1e-6 and adversarial.min() >= 0 and adversarial.max() <= 1
    assert accuracy(model, adversarial, y) <= accuracy(model, FGSM(model, 0.1)(x, y), y)


def test_guarded_magnet_rejects_exactly_what_magnet_rejects():
    torch.manual_seed(0)
    magnet = MagNet(magnet_autoencoder(1))
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()
    images = torch.rand(40, 1, 28, 28) * torch.linspace(0.2, 1, 40).view(40, 1, 1, 1)
    guarded = GuardedMagNet(classifier, magnet).eval()
    with torch.no_grad():
        assert (guarded(images).argmax(1) < 10).all()                       # detector off: τ = +∞
        magnet.calibrate(images, 0.25)
        rejected = guarded(images).argmax(1) == 10
    assert torch.equal(rejected, magnet.rejects(images)) and 5 <= rejected.sum() <= 15
    images.requires_grad_(True)
    gradient, = torch.autograd.grad(guarded(images)[:, 10].sum(), images)
    assert gradient.abs().sum() > 0                                        # differentiable through the detector
