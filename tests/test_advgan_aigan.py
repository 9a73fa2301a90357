"""AdvGAN and AI-GAN: networks, losses, training on real MNIST, the attack contract, and the traps of the
popular ports (dropout active in the target model, success counted over misclassified images)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancourse.attacks.advgan import AdvGAN, AdvGANWeights, distill, hinge_loss, train_advgan
from gancourse.attacks.aigan import AIGAN, ClassBranch, random_other_classes, train_aigan
from gancourse.evaluate import accuracy, attack_success_rate, predict
from gancourse.models.advgan import PerturbationDiscriminator, PerturbationGenerator
from gancourse.models.classifiers import build_classifier


def test_generators_respect_the_budget_and_the_condition():
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28)
    plain, conditional = PerturbationGenerator(1, eps=0.2), PerturbationGenerator(1, eps=0.2, num_classes=10)
    delta = plain(x)
    assert delta.shape == x.shape and delta.abs().max() <= 0.2
    t = torch.tensor([0, 1, 2, 3, 4])
    assert conditional(x, t).abs().max() <= 0.2
    assert not torch.allclose(conditional(x, t), conditional(x, (t + 1) % 10))   # the condition is used
    with pytest.raises(ValueError, match="G\\(x, target\\)"):
        conditional(x)
    with pytest.raises(ValueError, match="not conditioned"):
        plain(x, t)
    with pytest.raises(ValueError, match="eps"):
        PerturbationGenerator(1, eps=0.0)


def test_discriminator_branches():
    x = torch.rand(3, 1, 28, 28)
    two = PerturbationDiscriminator(1, num_classes=10)
    assert two(x).shape == (3,) and two.classify(x).shape == (3, 10)
    assert ClassBranch(two)(x).shape == (3, 10)
    with pytest.raises(ValueError, match="no class branch"):
        PerturbationDiscriminator(1).classify(x)


def test_hinge_loss_known_values():
    delta = torch.zeros(2, 1, 2, 2)
    delta[0, 0, 0, 0] = 5.0          # ‖δ‖₂ = 5
    delta[1, 0, 0, 0] = 1.0          # ‖δ‖₂ = 1 < c
    assert hinge_loss(delta, c=3.0).item() == pytest.approx((5 - 3 + 0) / 2)


def test_random_other_classes_never_pick_the_label():
    labels = torch.arange(10).repeat(100)
    targets = random_other_classes(labels, 10, torch.Generator().manual_seed(0))
    assert (targets != labels).all() and set(targets.tolist()) == set(range(10))


class ModeRecorder(nn.Module):
    """Wraps a model and records its training flag at every forward pass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.modes = model, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.model.training)
        return self.model(x)


@pytest.mark.slow
def test_advgan_learns_an_untargeted_attack_with_the_target_frozen_in_eval_mode(mnist):
    bundle, model = mnist
    recorder = ModeRecorder(model).train()                   # dropout on, as a careless caller leaves it
    before = [p.clone() for p in model.parameters()]
    torch.manual_seed(0)
    generator, discriminator = PerturbationGenerator(1, eps=0.3), PerturbationDiscriminator(1)
    history = train_advgan(generator, discriminator, recorder, bundle.train_loader, 150,
                           weights=AdvGANWeights(alpha=1.0, beta=1.0, c=3.0))
    assert recorder.modes and not any(recorder.modes)        # never called in training mode
    assert recorder.training and model.training              # the caller's mode is restored
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    model.eval()
    x, y = bundle.test_images[:300], bundle.test_labels[:300]
    adversarial = AdvGAN(model, {"untargeted": generator})(x, y)
    assert (adversarial - x).abs().max() <= 0.3 + 1e-6 and 0 <= adversarial.min() and adversarial.max() <= 1
    assert attack_success_rate(model, x, adversarial, y) > 0.6
    assert history["success"][-20:] and sum(history["success"][-20:]) / 20 > 0.5


def test_advgan_attack_wrapper_rejects_what_it_cannot_do(mnist):
    bundle, model = mnist
    only_three = AdvGAN(model, {3: PerturbationGenerator(1, eps=0.3)})
    x, y = bundle.test_images[:4], bundle.test_labels[:4]
    with pytest.raises(ValueError, match="targeted only"):
        only_three(x, y)
    with pytest.raises(ValueError, match="no generator trained for target"):
        only_three(x, target=torch.tensor([3, 3, 4, 3]))
    assert only_three(x, target=torch.full((4,), 3)).shape == x.shape
    with pytest.raises(ValueError, match="at least one"):
        AdvGAN(model, {})


@pytest.mark.slow
def test_aigan_one_generator_reaches_the_target_it_is_given(mnist):
    bundle, model = mnist
    torch.manual_seed(0)
    generator = PerturbationGenerator(1, eps=0.3, num_classes=10)
    discriminator = PerturbationDiscriminator(1, num_classes=10)
    history = train_aigan(generator, discriminator, model, bundle.train_loader, 250, attacker_steps=2)
    assert len(history["branch_robust_accuracy"]) == 250
    x, y = bundle.test_images[:200], bundle.test_labels[:200]
    attack = AIGAN(model, generator)
    reached = []
    for shift in (1, 5):
        targets = (y + shift) % 10
        reached.append((predict(model, attack(x, target=targets)) == targets).float().mean().item())
    assert min(reached) > 0.3                 # far above the 1-in-10 of a perturbation that ignores t
    with pytest.raises(ValueError, match="targeted only"):
        attack(x, y)
    assert accuracy(model, x, y) > 0.8        # the target model was not changed by the training


def test_distillation_makes_the_student_agree_with_the_black_box(mnist):
    bundle, model = mnist
    torch.manual_seed(0)
    student = build_classifier("E")
    teacher = lambda images: torch.softmax(model.eval()(images), dim=1)
    losses = distill(student, teacher, bundle.train_images, epochs=3,
                     generator=torch.Generator().manual_seed(0))["loss"]
    assert losses[-1] < losses[0]
    agreement = (predict(student, bundle.test_images) == predict(model, bundle.test_images)).float().mean()
    assert agreement > 0.85


class FailsAfter(nn.Module):
    """A target model that raises at its ``limit``-th call (an interruption in the middle of training)."""

    def __init__(self, model: nn.Module, limit: int) -> None:
        super().__init__()
        self.model, self.calls, self.limit = model, 0, limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.limit:
            raise KeyboardInterrupt("interrupted")
        return self.model(x)


def test_interrupted_advgan_training_resumes_from_its_last_save(tmp_path):
    from torch.utils.data import DataLoader, TensorDataset

    from gancourse.checkpoints import ProgressFile

    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.rand(64, 1, 28, 28), torch.randint(10, (64,))), batch_size=16)
    target = build_classifier("D").eval()
    generator, discriminator = PerturbationGenerator(1, eps=0.3), PerturbationDiscriminator(1)
    progress = ProgressFile(tmp_path / "advgan.progress.pt", "advgan")
    with pytest.raises(KeyboardInterrupt):
        train_advgan(generator, discriminator, FailsAfter(target, 16), loader, 20, progress=progress, save_every=5)
    saved = progress.load()
    assert saved is not None and len(saved["history"]["success"]) == 15        # the save at step 15 survived
    resumed = FailsAfter(target, 10**9)
    history = train_advgan(generator, discriminator, resumed, loader, 20, progress=progress, save_every=5)
    assert resumed.calls == 5 and len(history["success"]) == 20                 # only the missing 5 steps ran
    assert history["d_loss"][:15] == saved["history"]["d_loss"]
    assert progress.load()["step"] == 20      # kept at the end: the checkpoint store deletes it once stored
