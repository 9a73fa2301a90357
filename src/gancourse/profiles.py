"""The budget table: what each execution profile means, in one place.

Every notebook has a ``profile`` parameter. ``smoke`` proves the code path in seconds (CI), ``cpu`` shows
every effect a chapter claims in about ten minutes on a laptop, ``gpu`` trains and evaluates more on a
CUDA GPU within about 15 minutes a chapter on a Colab T4 (the budget :mod:`gancourse.chapter_costs` checks), and
``auto`` picks ``gpu`` when CUDA is available, else ``cpu``. Chapters read their budgets
from the :class:`Profile` they get here, never from literals of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch


@dataclass(frozen=True)
class Profile:
    """One row of the budget table.

    Attributes:
        name: ``smoke``, ``cpu`` or ``gpu``.
        where: the machine the profile is meant for.
        train_size: training images drawn from the dataset (None: all of them).
        test_size: test images drawn from the dataset (None: all of them).
        batch_size: mini-batch size for classifiers and GANs.
        classifier_epochs: epochs for every classifier a chapter trains.
        gan_iterations: generator updates for every GAN a chapter trains on images.
        critic_gan_iterations: generator updates for image GANs with 5 critic steps per update (WGAN-GP).
        toy_iterations: generator updates for the small GANs on 1-D and 2-D toy distributions.
        loss_comparison_iterations: generator updates of each of chapter 02's three ring GANs (GAN, WGAN,
            WGAN-GP; the two critics take 5 steps per update).
        projection_steps: Defense-GAN's L, gradient steps of the projection onto the generator's range.
        projection_restarts: Defense-GAN's R, random restarts of that projection.
        attack_steps: iterations of iterative attacks (PGD, C&W, DeepFool, ...).
        adversarial_epochs: epochs of adversarial fine-tuning, starting from the clean classifier.
        adversarial_training_steps: PGD steps per batch in PGD adversarial training.
        eval_size: test images an attack or a defense is evaluated on.
        defense_eval_size: test images for the costly defenses (Defense-GAN projects each one L·R times).
        adaptive_eval_size: test images for adaptive attacks on a costly defense (every attack step projects
            each image E times, and the defense judges the candidates).
        attack_gan_iterations: training steps of every AdvGAN generator (AI-GAN's conditional generator,
            which learns every target at once, gets twice as many).
        ape_gan_iterations: discriminator steps of every APE-GAN training (the official code: 2 epochs).
        cyclegan_iterations: generator (and discriminator) steps of every CycleGAN training.
        stylegan_iterations: generator (and discriminator) steps of the small StyleGAN.
    """

    name: str
    where: str
    train_size: int | None
    test_size: int | None
    batch_size: int
    classifier_epochs: int
    gan_iterations: int
    critic_gan_iterations: int
    toy_iterations: int
    loss_comparison_iterations: int
    projection_steps: int
    projection_restarts: int
    attack_steps: int
    adversarial_epochs: int
    adversarial_training_steps: int
    eval_size: int
    defense_eval_size: int
    adaptive_eval_size: int
    attack_gan_iterations: int
    ape_gan_iterations: int
    cyclegan_iterations: int
    stylegan_iterations: int

    def as_dict(self) -> dict[str, object]:
        """The row as a plain dict (JSON-serialisable; used in checkpoint configs and run records)."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", where="CI, 2 CPU cores: proves the code path in well under a minute, not the science",
        train_size=512, test_size=256, batch_size=64, classifier_epochs=1,
        gan_iterations=20, critic_gan_iterations=5, toy_iterations=50, loss_comparison_iterations=50,
        projection_steps=5, projection_restarts=2, attack_steps=5,
        adversarial_epochs=1, adversarial_training_steps=2, eval_size=64,
        defense_eval_size=32, adaptive_eval_size=16, attack_gan_iterations=10, ape_gan_iterations=10, cyclegan_iterations=5, stylegan_iterations=5,
    ),
    "cpu": Profile(
        name="cpu", where="a laptop or a free CPU runtime: about 10 minutes per chapter, every effect shown",
        train_size=12_000, test_size=2_000, batch_size=64, classifier_epochs=5,
        gan_iterations=3_000, critic_gan_iterations=400, toy_iterations=5_000, loss_comparison_iterations=2_500,
        projection_steps=50, projection_restarts=4, attack_steps=20,
        adversarial_epochs=1, adversarial_training_steps=3, eval_size=500,
        defense_eval_size=200, adaptive_eval_size=100, attack_gan_iterations=200, ape_gan_iterations=500, cyclegan_iterations=1_000,
        stylegan_iterations=2_000,
    ),
    "gpu": Profile(
        name="gpu", where="a CUDA GPU (a Colab T4 or better): every chapter but the robustness matrix (about 17 "
                          "min) in at most 15 minutes on a T4 with the published weights, by the cost model "
                          "(`gancourse costs --chapters`); larger models and "
                          "evaluations than `cpu`, the papers' costliest settings left to the reader",
        train_size=None, test_size=None, batch_size=128, classifier_epochs=10,
        gan_iterations=10_000, critic_gan_iterations=7_000, toy_iterations=5_000, loss_comparison_iterations=3_000,
        projection_steps=50, projection_restarts=4, attack_steps=30,
        adversarial_epochs=2, adversarial_training_steps=10, eval_size=1_000,
        defense_eval_size=200, adaptive_eval_size=100, attack_gan_iterations=500, ape_gan_iterations=2_000,
        cyclegan_iterations=8_000, stylegan_iterations=12_000,
    ),
}

REFERENCE = Profile(
    name="reference",
    where="the budget the book's published weights are trained with (`gancourse train-reference`), chosen for the "
          "models' quality, not for a chapter's time; never a chapter's profile",
    train_size=None, test_size=None, batch_size=128, classifier_epochs=10,
    gan_iterations=10_000, critic_gan_iterations=10_500, toy_iterations=20_000, loss_comparison_iterations=20_000,
    projection_steps=200, projection_restarts=10, attack_steps=100,
    adversarial_epochs=10, adversarial_training_steps=10, eval_size=2_000,
    defense_eval_size=2_000, adaptive_eval_size=500, attack_gan_iterations=6_000, ape_gan_iterations=2_000, cyclegan_iterations=20_000,
    stylegan_iterations=12_000,
)
"""The reference budget: the Defense-GAN paper's classifier training (all 60,000 images, 10 epochs, batch 128)
and, for the models that need hours, budgets chosen for quality and trained on 2 CPU cores (the WGAN-GP: 10,500
generator steps, in stages of one sitting each (:data:`gancourse.zoo.gans.WGAN_GP_STAGES`), against the paper's
code's 200,000; the StyleGAN: 12,000 steps of batch 32, as many as the gpu profile's own);
`gancourse.zoo.reference` lists which models are published)."""

PROFILE_NAMES = (*PROFILES, "auto")


def resolve_profile(name: str, cuda_available: bool | None = None) -> Profile:
    """Return the :class:`Profile` called ``name``; ``auto`` is ``gpu`` with CUDA, else ``cpu``.

    Args:
        name: one of ``smoke``, ``cpu``, ``gpu``, ``auto``.
        cuda_available: overrides ``torch.cuda.is_available()`` (for tests).

    Raises:
        ValueError: for an unknown name, or ``gpu`` on a machine without CUDA (a GPU budget on a CPU
            would run for hours; choose ``cpu`` or ``auto`` there).
    """
    if not isinstance(name, str) or name not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}")
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if name == "auto":
        return PROFILES["gpu" if cuda_available else "cpu"]
    if name == "gpu" and not cuda_available:
        raise ValueError(
            "profile 'gpu' needs a CUDA GPU and none is available here; "
            "use profile='cpu' (or 'auto', which picks 'cpu' on this machine), "
            "or on Colab choose Runtime > Change runtime type > GPU"
        )
    return PROFILES[name]


def profile_table() -> list[dict[str, object]]:
    """The budget table as rows of dicts, one per profile, in the order smoke, cpu, gpu."""
    return [profile.as_dict() for profile in PROFILES.values()]


def profile_fields() -> list[str]:
    """The column names of the budget table."""
    return [field.name for field in fields(Profile)]
