"""AdvGAN and AI-GAN: networks, losses, training on real MNIST, the attack contract, and the traps of the
popular ports (dropout active in the target model, success counted over misclassified images)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from gancourse.attacks import PGD
from gancourse.attacks.advgan import AdvGAN, AdvGANWeights, distill, hinge_loss, train_advgan
from gancourse.attacks.advgan import generator_loss as advgan_generator_loss
from gancourse.attacks.aigan import AIGAN, ClassBranch, class_branch_loss, random_other_classes, train_aigan
from gancourse.attacks.aigan import discriminator_loss as aigan_discriminator_loss
from gancourse.attacks.aigan import generator_loss as aigan_generator_loss
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


def test_dynamic_distillation_counts_the_queries_it_makes():
    from torch.utils.data import DataLoader, TensorDataset

    from gancourse.attacks.advgan import train_advgan_dynamic

    torch.manual_seed(0)
    images, labels = torch.rand(48, 1, 28, 28), torch.randint(10, (48,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=16)
    oracle = build_classifier("D").eval()
    asked = []

    def black_box(batch):
        asked.append(len(batch))
        with torch.no_grad():
            return torch.softmax(oracle(batch), dim=1)

    report = train_advgan_dynamic(PerturbationGenerator(1, eps=0.3), PerturbationDiscriminator(1),
                                  build_classifier("E"), black_box, loader, images[:20], rounds=3,
                                  iterations_per_round=2)
    assert report["queries"] == [40.0, 20.0, 20.0]              # clean answers once, then N adversarial per round
    assert sum(report["queries"]) == sum(asked)
    assert len(report["agreement"]) == len(report["success"]) == 3


def test_advgan_generator_loss_known_answers():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    scores = torch.tensor([0.0, 1.0])                        # ½ E (D(x_adv) − 1)² = ½ · ½ (1 + 0) = 0.25
    delta = torch.zeros(2, 1, 2, 2)
    delta[0, 0, 0, 0], delta[1, 0, 0, 0] = 5.0, 1.0          # ‖δ‖₂ = 5 and 1: hinge at c = 3 is (2 + 0) / 2 = 1
    weights = AdvGANWeights(alpha=2.0, beta=3.0, c=3.0)
    untargeted = advgan_generator_loss(logits, torch.tensor([0, 1]), scores, delta, weights, targeted=False)
    assert untargeted["adv_loss"].item() == pytest.approx((2 + 1) / 2)          # Z_y − max_{j≠y} Z_j
    assert untargeted["gan_loss"].item() == pytest.approx(0.25)
    assert untargeted["hinge_loss"].item() == pytest.approx(1.0)
    assert untargeted["loss"].item() == pytest.approx(1.5 + 2 * 0.25 + 3 * 1.0)
    targeted = advgan_generator_loss(logits, torch.tensor([0, 0]), scores, delta,
                                     AdvGANWeights(alpha=2.0, beta=3.0, c=3.0, kappa=1.0), targeted=True)
    assert targeted["adv_loss"].item() == pytest.approx((-1 + 2) / 2)           # max(1 − 3, −κ), 2 − 0


def test_aigan_losses_known_answers():
    labels, targets = torch.tensor([0, 1]), torch.tensor([2, 3])
    uniform = torch.zeros(2, 4)                                                  # CE = log 4 for any label
    certain = torch.tensor([[100.0, 0, 0, 0], [0, 100.0, 0, 0]])                 # CE ≈ 0 for the labels
    assert class_branch_loss(uniform, uniform, certain, labels).item() == pytest.approx(2 * math.log(4) / 3)
    d_terms = aigan_discriminator_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0]), uniform, uniform,
                                       certain, labels)
    assert d_terms["source_loss"].item() == pytest.approx(0.5 * (0.5 + 2.0))  # ½ E (D_s(x) − 1)² + ½ E D_s(x_adv)²
    assert d_terms["class_loss"].item() == pytest.approx(2 * math.log(4) / 3)
    assert d_terms["loss"].item() == pytest.approx(1.25 + 2 * math.log(4) / 3)

    logits = torch.tensor([[3.0, 1.0, 0.0, 0.0], [0.0, 2.0, 1.0, 0.0]])
    scores, delta, weights = torch.tensor([0.0, 1.0]), torch.zeros(2, 1, 2, 2), AdvGANWeights(alpha=2.0, beta=3.0)
    g_terms = aigan_generator_loss(logits, targets, scores, uniform, delta, weights, gamma=2.0)
    advgan_terms = advgan_generator_loss(logits, targets, scores, delta, weights, targeted=True)
    assert g_terms["adv_loss"].item() == pytest.approx((3 - 0 + 2 - 0) / 2)     # max_{j≠t} Z_j − Z_t
    assert g_terms["branch_loss"].item() == pytest.approx(math.log(4))
    assert g_terms["loss"].item() == pytest.approx(advgan_terms["loss"].item() + 2.0 * math.log(4))


def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.rand(8, 1, 28, 28), torch.randint(10, (8,))


def test_advgan_loop_logs_the_generator_loss_of_its_batch():
    images, labels = tiny_batch()
    target_model = build_classifier("D").eval()
    generator, discriminator = PerturbationGenerator(1, eps=0.3), PerturbationDiscriminator(1)
    weights = AdvGANWeights(alpha=2.0, beta=0.5, c=1.0)
    history = train_advgan(copy.deepcopy(generator), copy.deepcopy(discriminator), target_model, [(images, labels)],
                           1, weights=weights, lr=1e-12)      # D's step before G's loss barely moves D
    perturbation = generator(images)
    adversarial = (images + perturbation).clamp(0, 1)
    terms = advgan_generator_loss(target_model(adversarial), labels, discriminator(adversarial), perturbation,
                                  weights, targeted=False)
    for key in ("adv_loss", "gan_loss", "hinge_loss"):
        assert history[key][0] == pytest.approx(terms[key].item(), abs=1e-5), key


def test_aigan_loop_logs_the_losses_of_its_batch():
    images, labels = tiny_batch()
    target_model = build_classifier("D").eval()
    generator = PerturbationGenerator(1, eps=0.3, num_classes=10)
    discriminator = PerturbationDiscriminator(1, num_classes=10)
    weights = AdvGANWeights(alpha=2.0, beta=0.5, c=1.0)
    torch.manual_seed(1)                                                          # the attacker's random start
    history = train_aigan(copy.deepcopy(generator), copy.deepcopy(discriminator), target_model, [(images, labels)],
                          1, weights=weights, gamma=0.7, attacker_steps=2, lr=1e-12, seed=3)
    targets = random_other_classes(labels, 10, torch.Generator().manual_seed(3))
    perturbation = generator(images, targets)
    adversarial = (images + perturbation).clamp(0, 1)
    torch.manual_seed(1)
    attacked = PGD(ClassBranch(discriminator), 0.3, steps=2)(images, labels)
    d_terms = aigan_discriminator_loss(discriminator(images), discriminator(adversarial),
                                       discriminator.classify(images), discriminator.classify(adversarial),
                                       discriminator.classify(attacked), labels)
    g_terms = aigan_generator_loss(target_model(adversarial), targets, discriminator(adversarial),
                                   discriminator.classify(adversarial), perturbation, weights, gamma=0.7)
    assert history["d_loss"][0] == pytest.approx(d_terms["loss"].item(), abs=1e-5)
    for key in ("adv_loss", "gan_loss", "hinge_loss", "branch_loss"):
        assert history[key][0] == pytest.approx(g_terms[key].item(), abs=1e-5), key
