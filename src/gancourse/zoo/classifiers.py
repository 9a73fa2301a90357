"""Recipes for the classifiers: the Defense-GAN paper's A–E, adversarially trained and defensively distilled ones,
the detector that guards one, the distilled student and the substitute of the black-box attacks."""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks import FGSM, PGD
from gancourse.attacks.advgan import distill
from gancourse.attacks.substitute import train_substitute
from gancourse.checkpoints import CheckpointRecord
from gancourse.defenses.adversarial_training import ADVERSARIAL_WEIGHTS, make_adversary
from gancourse.defenses.detector import detector_network, train_detector
from gancourse.evaluate import accuracy, predict
from gancourse.models.classifiers import build_classifier
from gancourse.train.classifier import train_at_temperature, train_classifier
from gancourse.zoo.recipe import Call, RecipeContext, reference_first

ENSEMBLE_SOURCES = "ABCD"  # ensemble adversarial training of model X mixes in the others' FGSM examples
DEFENSES = ("none", "fgsm", "ensemble", "pgd")  # what an AdvGAN/AI-GAN recipe can be trained against
DISTILLATION_TEMPERATURE = 100.0  # Papernot et al. report results up to T = 100 (PAPERS.md)
SUBSTITUTE_SEEDS = 150  # Papernot et al.: the attacker owns 150 images, held out from the test set's end


class ClassifierRecipes(RecipeContext):
    """Classifier recipes (mixed into :class:`gancourse.zoo.Zoo`)."""

    def _test_accuracy(self, model: nn.Module) -> dict[str, float]:
        return {"test_accuracy": accuracy(model, self.bundle.test_images, self.bundle.test_labels)}

    @reference_first
    def classifier(self, name: str) -> tuple[nn.Module, CheckpointRecord]:
        """Classifier ``name`` (A–E, Defense-GAN paper) trained with Adam(1e-3) for the profile's epochs."""
        trainer = Call(train_classifier, epochs=self.profile.classifier_epochs, lr=1e-3)
        return self.make(f"classifier-{name}", Call(build_classifier, name), trainer,
                         lambda model, progress: trainer(model, self.bundle.train_loader, device=self.device,
                                                         progress=progress),
                         settings={"batch_size": self.bundle.train_loader.batch_size}, evaluate=self._test_accuracy)

    def adversarially_trained(self, name: str, method: str, eps: float) -> tuple[nn.Module, CheckpointRecord]:
        """Classifier ``name`` fine-tuned on adversarial examples, starting from :meth:`classifier`'s weights,
        for the profile's ``adversarial_epochs`` (Adam 1e-3). ``method`` is one of
        :data:`gancourse.defenses.adversarial_training.ADVERSARIAL_TRAINING_METHODS` (``static``: FGSM examples
        of the clean model; ``fgsm``; ``pgd`` with the profile's ``adversarial_training_steps``; ``ensemble`` with
        the other classifiers of :data:`ENSEMBLE_SOURCES` as static sources), ℓ∞ budget ``eps``."""
        clean, clean_record = self.classifier(name)
        steps = self.profile.adversarial_training_steps
        statics = ({other: self.classifier(other) for other in ENSEMBLE_SOURCES if other != name}
                   if method == "ensemble" else {})
        adversary = make_adversary(method, eps, fixed_model=clean, pgd_steps=steps,
                                   static_models=[model for model, _ in statics.values()], seed=self.seed)
        trainer = Call(train_classifier, epochs=self.profile.adversarial_epochs, lr=1e-3,
                       adversarial_weight=ADVERSARIAL_WEIGHTS[method], run_time=("adversary",))
        return self.make(
            f"classifier-{name}-adversarial-{method}", clean, trainer,
            lambda model, progress: trainer(model, self.bundle.train_loader, device=self.device, progress=progress,
                                            adversary=adversary),
            inputs={"model": clean_record, **{f"static-{other}": record for other, (_, record) in statics.items()}},
            settings={"method": method, "eps": eps, "batch_size": self.bundle.train_loader.batch_size,
                      **({"pgd_steps": steps} if method == "pgd" else {})},
            evaluate=self._test_accuracy)

    def distillation_teacher(self, name: str, temperature: float) -> tuple[nn.Module, CheckpointRecord]:
        """Classifier ``name`` trained from scratch at softmax temperature ``temperature`` for the profile's
        classifier epochs: the first half of defensive distillation."""
        trainer = Call(train_at_temperature, epochs=self.profile.classifier_epochs, temperature=temperature)
        return self.make(f"classifier-{name}-teacher-T{temperature:g}", Call(build_classifier, name), trainer,
                         lambda model, progress: trainer(model, self.bundle.train_loader, device=self.device,
                                                         progress=progress),
                         settings={"batch_size": self.bundle.train_loader.batch_size}, evaluate=self._test_accuracy)

    def distilled_classifier(self, name: str, temperature: float = DISTILLATION_TEMPERATURE,
                             ) -> tuple[nn.Module, CheckpointRecord]:
        """Defensive distillation of classifier ``name`` (Papernot et al. 2016): a fresh network of the same
        architecture trained at ``temperature`` on the soft labels of :meth:`distillation_teacher`, deployed at
        T = 1 (its logits as they are)."""
        teacher, teacher_record = self.distillation_teacher(name, temperature)
        trainer = Call(train_at_temperature, epochs=self.profile.classifier_epochs, temperature=temperature,
                       run_time=("teacher",))
        return self.make(f"classifier-{name}-distilled-T{temperature:g}", Call(build_classifier, name), trainer,
                         lambda model, progress: trainer(model, self.bundle.train_loader, device=self.device,
                                                         progress=progress, teacher=teacher),
                         inputs={"teacher": teacher_record},
                         settings={"batch_size": self.bundle.train_loader.batch_size}, evaluate=self._test_accuracy)

    def defended_classifier(self, name: str, defense: str) -> tuple[nn.Module, CheckpointRecord]:
        """Classifier ``name`` undefended (``defense="none"``) or adversarially trained (``fgsm``, ``ensemble``,
        ``pgd``: the lecture's Adv., Ens. and Iter. Adv.) with the dataset's ℓ∞ budget."""
        if defense not in DEFENSES:
            raise ValueError(f"unknown defense {defense!r}; choose one of {', '.join(DEFENSES)}")
        if defense == "none":
            return self.classifier(name)
        return self.adversarially_trained(name, defense, self.bundle.info.linf_budget)

    def detector(self, name: str, eps: float) -> tuple[nn.Module, CheckpointRecord]:
        """The "safety net" for classifier ``name``: a detector trained for the profile's ``adversarial_epochs``
        on clean training images and their adversarial versions (half FGSM, half PGD with the profile's
        ``adversarial_training_steps``, budget ``eps``), all made against the clean classifier."""
        guarded, guarded_record = self.classifier(name)
        steps = self.profile.adversarial_training_steps
        fgsm, pgd = FGSM(guarded, eps), PGD(guarded, eps, steps=steps)

        def make_adversarial(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            half = len(images) // 2
            return torch.cat([fgsm(images[:half], labels[:half]), pgd(images[half:], labels[half:])])

        trainer = Call(train_detector, epochs=self.profile.adversarial_epochs)
        return self.make(f"detector-{name}", Call(detector_network), trainer,
                         lambda model, progress: trainer(model, self.bundle.train_loader, make_adversarial,
                                                         device=self.device, progress=progress),
                         inputs={"guards": guarded_record},
                         settings={"eps": eps, "attacks": ["fgsm", f"pgd-{steps}"],
                                   "batch_size": self.bundle.train_loader.batch_size})

    def distilled_student(self, name: str) -> tuple[nn.Module, CheckpointRecord]:
        """Static distillation of black box ``name`` into a fresh model E: the student is fitted to the black
        box's output probabilities on the training images for the profile's classifier epochs."""
        black_box, black_box_record = self.classifier(name)
        trainer = Call(distill, epochs=self.profile.classifier_epochs, batch_size=self.profile.batch_size,
                       run_time=("generator",))
        return self.make(
            f"student-of-{name}", Call(build_classifier, "E"), trainer,
            lambda student, _progress: trainer(student, lambda images: torch.softmax(black_box(images.to(self.device)),
                                                                                     dim=1),
                                               self.bundle.train_images,
                                               generator=torch.Generator().manual_seed(self.seed)),
            inputs={"black_box": black_box_record}, evaluate=lambda _: {"queries": len(self.bundle.train_images)})

    def substitute(self, name: str) -> tuple[nn.Module, CheckpointRecord]:
        """The black-box attacker's substitute (architecture E) of classifier ``name``, trained only on its
        labels: the last 150 test images as seeds, 6 rounds of Jacobian augmentation (λ = 0.1), 2 × the
        profile's classifier epochs per round (the paper's 10 in the cpu profile)."""
        oracle, oracle_record = self.classifier(name)
        trainer = Call(train_substitute, rounds=6, epochs=2 * self.profile.classifier_epochs, lam=0.1,
                       run_time=("generator",))
        return self.make(
            f"substitute-of-{name}", Call(build_classifier, "E"), trainer,
            lambda model, _progress: trainer(lambda images: predict(oracle, images), model,
                                             self.bundle.test_images[-SUBSTITUTE_SEEDS:].to(self.device),
                                             device=self.device, generator=torch.Generator().manual_seed(self.seed)),
            inputs={"oracle": oracle_record}, settings={"seeds": SUBSTITUTE_SEEDS})
