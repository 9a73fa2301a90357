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

from gancourse.attacks.advgan import (
    DEFAULT_WEIGHTS,
    AdvGAN,
    AdvGANWeights,
    adversarial_margin_loss,
    hinge_loss,
)
from gancourse.attacks.base import Attack
from gancourse.attacks.pgd import PGD
from gancourse.checkpoints import ProgressFile
from gancourse.losses import d_loss_least_squares, g_loss_least_squares
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
            d_loss = (d_loss_least_squares(discriminator(images), discriminator(fake))
                      + (F.cross_entropy(discriminator.classify(images), labels)
                         + F.cross_entropy(discriminator.classify(fake), labels)
                         + F.cross_entropy(discriminator.classify(attacked), labels)) / 3)
            optimiser_d.zero_grad(set_to_none=True)
            d_loss.backward()
            optimiser_d.step()

            logits = target_model(adversarial)
            adv_loss = adversarial_margin_loss(logits, targets, True, weights.kappa)
            gan_loss = g_loss_least_squares(discriminator(adversarial))
            hinge = hinge_loss(perturbation, weights.c)
            branch_loss = F.cross_entropy(discriminator.classify(adversarial), targets)
            loss = adv_loss + weights.alpha * gan_loss + weights.beta * hinge + gamma * branch_loss
            optimiser_g.zero_grad(set_to_none=True)
            loss.backward()
            optimiser_g.step()

            with torch.no_grad():
                robust = (discriminator.classify(attacked).argmax(1) == labels).float().mean()
            run.log(d_loss=d_loss, adv_loss=adv_loss, gan_loss=gan_loss, hinge_loss=hinge, branch_loss=branch_loss,
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
