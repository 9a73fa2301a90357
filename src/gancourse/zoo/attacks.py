"""Recipes for the GAN-based attacks: AdvGAN (white-box, per target, against defended models, black-box with
static or dynamic distillation) and AI-GAN."""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks.advgan import AdvGANWeights, train_advgan, train_advgan_dynamic
from gancourse.attacks.aigan import train_aigan
from gancourse.checkpoints import CheckpointRecord, ProgressFile
from gancourse.models.advgan import PerturbationDiscriminator, PerturbationGenerator
from gancourse.train.loop import History
from gancourse.zoo.classifiers import ClassifierRecipes
from gancourse.zoo.recipe import Call, reference_first

ADVGAN_WEIGHTS = AdvGANWeights(alpha=1.0, beta=1.0, c=1.5)  # c: an ℓ2 bound below PGD's at ε = 0.1 on 28×28
DYNAMIC_ROUNDS = 4  # dynamic distillation: generator training alternates with re-distillation this often
DYNAMIC_QUERIES = 2000  # training images whose black-box answers re-fit the student each round


class AttackRecipes(ClassifierRecipes):
    """AdvGAN and AI-GAN recipes (mixed into :class:`gancourse.zoo.Zoo`)."""

    def _perturbation_networks(self, conditional: bool) -> dict[str, Call]:
        info = self.bundle.info
        channels, classes = info.image_shape[0], len(info.classes) if conditional else 0
        return {"generator": Call(PerturbationGenerator, channels, info.linf_budget, num_classes=classes),
                "discriminator": Call(PerturbationDiscriminator, channels, num_classes=classes,
                                      image_size=info.image_shape[1])}

    def _check_target(self, target_class: int | None) -> None:
        classes = len(self.bundle.info.classes)
        if target_class is not None and not (isinstance(target_class, int) and 0 <= target_class < classes):
            raise ValueError(f"target_class must be a class index 0 … {classes - 1} (or None: untargeted), "
                             f"got {target_class!r}")

    @reference_first
    def advgan(self, name: str, *, target_class: int | None = None, defense: str = "none",
               weights: AdvGANWeights = ADVGAN_WEIGHTS, replicate: int | None = None,
               ) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """A white-box AdvGAN generator (and its discriminator) trained for the profile's
        ``attack_gan_iterations`` against :meth:`defended_classifier` ``(name, defense)``: towards
        ``target_class``, or untargeted when it is None. Budget: the dataset's ℓ∞ budget. ``replicate``: an
        independent repeat with that initialisation seed (:meth:`RecipeContext.make`)."""
        self._check_target(target_class)
        target_model, target_record = self.defended_classifier(name, defense)
        goal = "untargeted" if target_class is None else f"to-{target_class}"
        trainer = Call(train_advgan, iterations=self.profile.attack_gan_iterations, target=target_class,
                       weights=weights)
        return self.make(
            f"advgan-{name}-{defense}-{goal}", self._perturbation_networks(conditional=False), trainer,
            lambda pair, progress: trainer(pair["generator"], pair["discriminator"], target_model,
                                           self.bundle.train_loader, device=self.device, progress=progress),
            inputs={"target_model": target_record}, settings={"batch_size": self.bundle.train_loader.batch_size},
            replicate=replicate)

    def advgan_black_box(self, name: str, distillation: str, *, target_class: int | None = None,
                         weights: AdvGANWeights = ADVGAN_WEIGHTS, replicate: int | None = None,
                         ) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """Black-box AdvGAN against classifier ``name``, never differentiating through it. ``static``: trained
        against :meth:`distilled_student`. ``dynamic``: from the same student, :data:`DYNAMIC_ROUNDS` rounds
        alternating generator training (a quarter of ``attack_gan_iterations`` each) with re-distillation on
        the black box's answers for :data:`DYNAMIC_QUERIES` training images and their adversarial versions.
        The returned dict holds the student too. ``replicate``: an independent repeat with that initialisation
        seed for the generator and discriminator (the student starts from the same distilled one)."""
        if distillation not in ("static", "dynamic"):
            raise ValueError(f"distillation must be 'static' or 'dynamic', got {distillation!r}")
        self._check_target(target_class)
        black_box, black_box_record = self.classifier(name)
        student, student_record = self.distilled_student(name)
        goal = "untargeted" if target_class is None else f"to-{target_class}"
        iterations = self.profile.attack_gan_iterations
        if distillation == "static":
            trainer = Call(train_advgan, iterations=iterations, target=target_class, weights=weights)
        else:
            trainer = Call(train_advgan_dynamic, rounds=DYNAMIC_ROUNDS,
                           iterations_per_round=max(1, iterations // DYNAMIC_ROUNDS), target=target_class,
                           weights=weights)

        def train(pair: nn.ModuleDict, progress: ProgressFile) -> History:
            networks = (pair["generator"], pair["discriminator"], pair["student"])
            if distillation == "static":
                return trainer(*networks, self.bundle.train_loader, device=self.device, progress=progress)
            return trainer(*networks, lambda images: torch.softmax(black_box(images.to(self.device)), dim=1),
                           self.bundle.train_loader, self.bundle.train_images[:DYNAMIC_QUERIES].to(self.device),
                           device=self.device)

        return self.make(f"advgan-{name}-black-box-{distillation}-{goal}",
                         {**self._perturbation_networks(conditional=False), "student": student}, trainer, train,
                         inputs={"black_box": black_box_record, "student": student_record},
                         settings={"batch_size": self.bundle.train_loader.batch_size,
                                   **({"queries": DYNAMIC_QUERIES} if distillation == "dynamic" else {})},
                         replicate=replicate)

    @reference_first
    def aigan(self, name: str, *, defense: str = "none", weights: AdvGANWeights = ADVGAN_WEIGHTS,
              gamma: float = 1.0, attacker_steps: int | None = None, replicate: int | None = None,
              ) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """AI-GAN's class-conditioned generator and two-branch discriminator, trained for twice the profile's
        ``attack_gan_iterations`` against :meth:`defended_classifier` ``(name, defense)``; the attacker is PGD
        on the discriminator's class branch with the dataset's budget and ``attacker_steps`` steps (default:
        the profile's adversarial-training steps). ``replicate``: an independent repeat with that seed for the
        initialisation and the random targets."""
        target_model, target_record = self.defended_classifier(name, defense)
        steps = self.profile.adversarial_training_steps if attacker_steps is None else attacker_steps
        trainer = Call(train_aigan, iterations=2 * self.profile.attack_gan_iterations, weights=weights, gamma=gamma,
                       attacker_eps=self.bundle.info.linf_budget, attacker_steps=steps,
                       seed=self.seed if replicate is None else replicate)
        return self.make(
            f"aigan-{name}-{defense}", self._perturbation_networks(conditional=True), trainer,
            lambda pair, progress: trainer(pair["generator"], pair["discriminator"], target_model,
                                           self.bundle.train_loader, device=self.device, progress=progress),
            inputs={"target_model": target_record}, settings={"batch_size": self.bundle.train_loader.batch_size},
            replicate=replicate)
