"""AI-GAN (Bai et al. 2021): one generator, conditioned on the target class, attacks towards any class.

Three networks. The generator G(x, t) returns a perturbation (ℓ∞ ≤ ε by construction) meant to make the
target model f answer t. The discriminator D has two branches on shared features: D_s(x), real (clean) vs
perturbed, and D_c(x), class logits. The attacker (PGD on D_c) makes adversarial examples x_pgd of the
clean images, so that D_c is *adversarially trained* on clean, generated and attacker examples, all with
their true labels y. With x_adv = clip_[0,1](x + G(x, t)) and t drawn uniformly among the classes ≠ y:

    L_D = ½ E (D_s(x) − 1)² + ½ E D_s(x_adv)² + ⅓ [CE(D_c(x), y) + CE(D_c(x_adv), y) + CE(D_c(x_pgd), y)]
    L_G = L_adv(f, t) + α·½ E (D_s(x_adv) − 1)² + β·L_hinge + γ·CE(D_c(x_adv), t)

L_adv and L_hinge are AdvGAN's (:mod:`gancourse.attacks.advgan`). The last term asks the generator to fool
the robust classifier branch too, which is what makes AI-GAN's perturbations hold up better against
adversarially trained models. The paper's loss weights are not known; the defaults here are stated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gancourse.attacks import advgan
from gancourse.attacks.advgan import DEFAULT_WEIGHTS, AdvGAN, AdvGANWeights
from gancourse.attacks.base import Attack
from gancourse.attacks.pgd import PGD
from gancourse.checkpoints import ProgressFile
from gancourse.losses import d_loss_least_squares
from gancourse.networks import frozen_eval
from gancourse.train.loop import History, TrainingRun, adam_parts, endless
from gancourse.validation import check_count, check_positive


class ClassBranch(nn.Module):
    """D_c as a stand-alone classifier (what the PGD attacker attacks)."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.classify(x)


def random_other_classes(labels: torch.Tensor, num_classes: int, generator: torch.Generator | None = None,
                         ) -> torch.Tensor:
    """A target t ≠ y per label, uniform over the other K − 1 classes."""
    shift = torch.randint(1, num_classes, labels.shape, generator=generator).to(labels.device)
    return (labels + shift) % num_classes


def class_branch_loss(clean_logits: torch.Tensor, fake_logits: torch.Tensor, attacked_logits: torch.Tensor,
                      labels: torch.Tensor) -> torch.Tensor:
    """L_D's class term: D_c is adversarially trained on clean, generated and attacker examples, all with
    their true labels y,

        ⅓ [CE(D_c(x), y) + CE(D_c(x_adv), y) + CE(D_c(x_pgd), y)]."""
    return (F.cross_entropy(clean_logits, labels) + F.cross_entropy(fake_logits, labels)
            + F.cross_entropy(attacked_logits, labels)) / 3


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, clean_logits: torch.Tensor,
                       fake_logits: torch.Tensor, attacked_logits: torch.Tensor,
                       labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """The discriminator's objective (module docstring) on one batch:

        L_D = ½ E (D_s(x) − 1)² + ½ E D_s(x_adv)² + ⅓ [CE(D_c(x), y) + CE(D_c(x_adv), y) + CE(D_c(x_pgd), y)]

    from D_s's scores on x and x_adv and D_c's logits on x, x_adv and x_pgd. Returns the least-squares
    real-vs-perturbed term under ``"source_loss"``, the class term (:func:`class_branch_loss`) under
    ``"class_loss"`` and their sum under ``"loss"``."""
    source = d_loss_least_squares(real_scores, fake_scores)
    classes = class_branch_loss(clean_logits, fake_logits, attacked_logits, labels)
    return {"loss": source + classes, "source_loss": source, "class_loss": classes}


def generator_loss(logits: torch.Tensor, targets: torch.Tensor, fake_scores: torch.Tensor,
                   fake_class_logits: torch.Tensor, perturbation: torch.Tensor, weights: AdvGANWeights,
                   gamma: float) -> dict[str, torch.Tensor]:
    """The generator's objective (module docstring) on one batch, x_adv = clip_[0,1](x + G(x, t)):

        L_G = L_adv(f, t) + α·½ E (D_s(x_adv) − 1)² + β·L_hinge + γ·CE(D_c(x_adv), t)

    from the target model's logits f(x_adv), the targets t, D_s's scores and D_c's logits on x_adv and the
    perturbations G(x, t). The first three terms are AdvGAN's targeted
    :func:`gancourse.attacks.advgan.generator_loss`. Returns its terms, the class-branch term under
    ``"branch_loss"`` and the weighted sum under ``"loss"``."""
    terms = advgan.generator_loss(logits, targets, fake_scores, perturbation, weights, targeted=True)
    branch = F.cross_entropy(fake_class_logits, targets)
    return {**terms, "loss": terms["loss"] + gamma * branch, "branch_loss": branch}


def train_aigan(generator: nn.Module, discriminator: nn.Module, target_model: nn.Module, loader: DataLoader,
                iterations: int, *, weights: AdvGANWeights = DEFAULT_WEIGHTS, gamma: float = 1.0,
                attacker_eps: float = 0.3, attacker_steps: int = 5, lr: float = 1e-3,
                device: torch.device | str = "cpu", progress: ProgressFile | None = None, save_every: int = 100,
                seed: int = 0) -> History:
    """Train AI-GAN's generator and two-branch discriminator for ``iterations`` steps (see the module
    docstring); the attacker is PGD with ``attacker_eps`` and ``attacker_steps``. Resumable like
    :func:`gancourse.attacks.advgan.train_advgan`. Returns per-step losses, the batch success rate towards
    t, and D_c's accuracy on the attacker's examples."""
    check_count("iterations", iterations)
    check_positive("gamma", gamma, allow_zero=True)
    num_classes = generator.num_classes
    if not num_classes or getattr(discriminator, "classes", None) is None:
        raise ValueError("AI-GAN needs a class-conditioned generator and a discriminator with a class branch "
                         "(PerturbationGenerator(num_classes=K), PerturbationDiscriminator(num_classes=K))")
    parts = adam_parts({"generator": generator, "discriminator": discriminator}, lr, device)
    optimiser_g, optimiser_d = parts["optimiser_generator"], parts["optimiser_discriminator"]
    run = TrainingRun(parts, iterations, progress=progress, save_every=save_every, description="AI-GAN")
    random = torch.Generator().manual_seed(seed + run.step)
    attacker = PGD(ClassBranch(discriminator), attacker_eps, steps=attacker_steps)
    batches = endless(loader)
    with frozen_eval(target_model):
        for _step in run:
            images, labels = (tensor.to(device) for tensor in next(batches))
            targets = random_other_classes(labels, num_classes, random)
            generator.train()
            discriminator.train()
            perturbation = generator(images, targets)
            adversarial = (images + perturbation).clamp(0, 1)
            attacked = attacker(images, labels)          # PGD on D_c (frozen inside the attack)

            fake = adversarial.detach()
            d_loss = discriminator_loss(discriminator(images), discriminator(fake), discriminator.classify(images),
                                        discriminator.classify(fake), discriminator.classify(attacked), labels)["loss"]
            optimiser_d.zero_grad(set_to_none=True)
            d_loss.backward()
            optimiser_d.step()

            logits = target_model(adversarial)
            terms = generator_loss(logits, targets, discriminator(adversarial), discriminator.classify(adversarial),
                                   perturbation, weights, gamma)
            optimiser_g.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimiser_g.step()

            with torch.no_grad():
                robust = (discriminator.classify(attacked).argmax(1) == labels).float().mean()
            run.log(d_loss=d_loss, adv_loss=terms["adv_loss"], gan_loss=terms["gan_loss"],
                    hinge_loss=terms["hinge_loss"], branch_loss=terms["branch_loss"],
                    success=(logits.argmax(1) == targets).float().mean(), branch_robust_accuracy=robust)
    return run.finish(generator, discriminator)


class AIGAN(Attack):
    """Targeted attack with a trained AI-GAN generator: x_adv = clip(x + G(x, t)), any target t."""

    norm = "linf"
    supports_untargeted = False

    def __init__(self, model: nn.Module, generator: nn.Module) -> None:
        if not getattr(generator, "num_classes", 0):
            raise ValueError("AI-GAN needs a class-conditioned generator (PerturbationGenerator(num_classes=K))")
        super().__init__(model, eps=float(generator.eps))
        self.generator = generator

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        return x + AdvGAN.run_generator(self.generator, x, labels)
