"""What each chapter costs in a profile: its heavy loops, counted in units whose FLOPs PyTorch counts.

A chapter's cost is a list of :class:`Loop` rows: a unit of work (a training step of one model at its batch, one
attack or projection step for one image), how many units the loop runs, and how many of them run one after
another (the steps a GPU cannot overlap). Every count is a formula in the :class:`~gancourse.profiles.Profile`'s
fields, read from the chapters' code (an inventory of every loop that costs more than about a second at the gpu
profile); a loop that trains a published model is skipped with ``weights="published"``. Counts of attacks that
stop early per image (DeepFool, JSMA, L-BFGS, the adaptive PGD's later restarts) are their upper bounds.

A loop's predicted time on a device is the larger of two floors:

    t = max( units · FLOPs per unit / (peak · efficiency),  sequential steps · operations per step · t_op )

the arithmetic at the fraction of peak the book's small 28×28 convolutions reach, and the time PyTorch needs to
launch each operation of a step that cannot start before the last one ended (:data:`OPERATION_SECONDS`). The
second floor is what makes a toy GAN of a few thousand FLOPs per step cost seconds on any device.

Costs assume a fresh machine (nothing in the checkpoint store): a model another chapter trained first, or a matrix
cell of an earlier run, is counted where it is used. The units' FLOPs come from :func:`unit_workloads`, which runs
the package's own trainers and attacks once on small batches (:mod:`gancourse.costs`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset

from gancourse.augmentation import ARMS as AUGMENTATION_ARMS
from gancourse.augmentation import TRIAL_ARCHITECTURE, TRIAL_SEEDS, TRIAL_STEPS
from gancourse.costs import Workload, classifier_step, count_work, pgd_step, projection_pass, wgan_gp_step
from gancourse.profiles import Profile

OPERATION_SECONDS = 1e-5
"""Seconds to dispatch and launch one PyTorch operation in eager mode (about 5–20 µs on current GPUs and CPUs);
the latency floor of a step is its operation count times this."""

TRAIN_IMAGES = 60_000                        # Fashion-MNIST, when a profile takes all of them
UNIT_BATCH = 8                               # training units are counted on 8 images and scaled to their batch
CLASSIFIER_ARCHITECTURES = "ABCDE"


@dataclasses.dataclass(frozen=True)
class Loop:
    """One heavy loop of a chapter: ``units`` of ``unit`` (each costing the unit's FLOPs), of which ``sequential``
    run one after another; ``published`` names the reference model whose published weights make it unnecessary."""

    what: str
    unit: str
    units: Callable[[Profile], float]
    sequential: Callable[[Profile], float]
    published: str | None = None


def steps_per_epoch(p: Profile, batch: int | None = None) -> int:
    """⌈training images / batch⌉ (loaders keep their partial last batch)."""
    return math.ceil((p.train_size or TRAIN_IMAGES) / (batch or p.batch_size))


def _training(what: str, unit: str, steps: Callable[[Profile], float], published: str | None = None) -> Loop:
    """A training loop: ``steps`` sequential steps, one unit each (the unit already holds its batch)."""
    return Loop(what, unit, steps, steps, published)


def _per_image(what: str, unit: str, images: Callable[[Profile], float], steps: Callable[[Profile], float],
               chunk: int | None = None) -> Loop:
    """An attack or projection: ``steps`` steps over ``images`` images, batched ``chunk`` at a time (all at once
    when None): images · steps units, ⌈images / chunk⌉ · steps of them sequential."""
    return Loop(what, unit, lambda p: images(p) * steps(p),
                lambda p: steps(p) * (1 if chunk is None else math.ceil(images(p) / chunk)))


def _classifiers(names: str, published: bool = True) -> list[Loop]:
    return [_training(f"classifier {name}", f"classifier {name}",
                      lambda p: p.classifier_epochs * steps_per_epoch(p), f"classifier-{name}" if published else None)
            for name in names]


def _adaptive_attacker_steps(p: Profile) -> int:
    return max(2, p.attack_steps // 2)


JUDGE_CALLS_OVERHEAD = 1.25
"""The adaptive attack's cost with 3 judge calls over one (only images the first call counts as fooled are judged
again): 220 s against 179 s on 24 images in one measurement on the cpu profile, rounded up."""


def _judged_attack_steps(p: Profile) -> float:
    """Projection steps per image of the adaptive attack on Defense-GAN: per attack step two EOT projections and
    about one judging projection, plus the last step's, times the judge calls' overhead."""
    return (3 * p.attack_steps + 2) * p.projection_steps * JUDGE_CALLS_OVERHEAD


RING_SEEDS = 5
"""Seeds of chapter 02's ring comparison, trained side by side (:class:`gancourse.models.toy.SeedStack`)."""


def _ring_comparison_steps(p: Profile) -> float:
    """Chapter 02's three ring GANs' sequential steps: GAN 2 per generator step, WGAN 6 and WGAN-GP 5 (critic
    steps included), and WGAN's 100 critic steps for its first 25 generator steps and every 500th."""
    return p.loss_comparison_iterations * 13 + 95 * (25 + p.loss_comparison_iterations // 500)


SUBSTITUTE_STEPS_PER_EPOCH_SUM = sum(math.ceil(150 * 2 ** r / 32) for r in range(6))
"""Steps of one epoch in each of the substitute's 6 rounds, summed (its set doubles from 150 images, batch 32)."""

CHAPTER_LOOPS: dict[str, tuple[Loop, ...]] = {
    "00_getting_started": (
        _training("classifier D, four trainings (checkpoint, corruption, new config, resumed after a kill)",
                  "classifier D", lambda p: 3 * p.classifier_epochs * steps_per_epoch(p)
                  + steps_per_epoch(p) * 1.5 + (max(3, p.classifier_epochs) - 1) * steps_per_epoch(p)),
    ),
    "01_gan_basics": (
        _training("toy GANs: D* demo, 1-D GAN, early stopping, long 1-D run", "toy GAN step",
                  lambda p: p.toy_iterations // 2 + 2 * max(20, p.toy_iterations // 5) + 2 * p.toy_iterations),
        Loop("ring GANs: 5 seeds stacked, then exercise ex01-collapse's defaults and 3 changes × 3 seeds (batch "
             "1,024: 4 units)", "toy GAN step", lambda p: (5 + 3 + 3 + 3 * 4 + 3) * p.toy_iterations,
             lambda p: 5 * p.toy_iterations),
        _training("DCGAN", "DCGAN step", lambda p: p.gan_iterations, "dcgan"),
    ),
    "02_wgan_and_wgan_gp": (
        Loop("three ring GANs × 5 seeds stacked (critic steps included)", "toy GAN step",
             lambda p: RING_SEEDS * _ring_comparison_steps(p), _ring_comparison_steps),
        *_classifiers("A"),
        _training("DCGAN", "DCGAN step", lambda p: p.gan_iterations, "dcgan"),
        _training("WGAN-GP", "WGAN-GP step", lambda p: p.critic_gan_iterations, "wgan-gp"),
        _training("a one-epoch DCGAN, then a fresh discriminator and critic against it", "DCGAN step",
                  lambda p: steps_per_epoch(p) + max(4, min(2000, p.toy_iterations // 2))
                  + max(4, min(1000, p.toy_iterations // 5))),
    ),
    "03_conditional_gans": (
        _training("conditional GAN", "cGAN step", lambda p: p.gan_iterations),
        _training("DCGAN with the cGAN's budget (Zoo.trained_at_profile: never the published one)", "DCGAN step",
                  lambda p: p.gan_iterations),
        *_classifiers("A"),
        _training("conditional GAN on 50 labelled images per class", "cGAN step", lambda p: p.gan_iterations),
        _training(f"augmentation trials: {len(AUGMENTATION_ARMS)} arms × {TRIAL_SEEDS} seeds of model "
                  f"{TRIAL_ARCHITECTURE}", f"classifier {TRIAL_ARCHITECTURE}",
                  lambda p: len(AUGMENTATION_ARMS) * TRIAL_SEEDS * TRIAL_STEPS),
    ),
    "04_cyclegan": (
        _training("two CycleGANs (full objective, no cycle)", "CycleGAN step", lambda p: 2 * p.cyclegan_iterations),
        *_classifiers("A"),
    ),
    "05_stylegan": (
        _training("StyleGAN", "StyleGAN step", lambda p: p.stylegan_iterations, "stylegan"),
        _training("DCGAN", "DCGAN step", lambda p: p.gan_iterations, "dcgan"),
        *_classifiers("A"),
    ),
    "06_adversarial_examples": (
        *_classifiers("ABCDE"),
        _per_image("inputs optimised towards every class (two cells)", "input gradient A", lambda p: 20,
                   lambda p: 10 * p.attack_steps),
        _per_image("PGD-type attacks of the attack tour", "input gradient A",
                   lambda p: 3 * max(16, p.eval_size // 5), lambda p: p.attack_steps),
        _per_image("DeepFool (50 steps) of the attack tour", "DeepFool step A", lambda p: max(16, p.eval_size // 5),
                   lambda p: 50),
        _per_image("C&W (5·S steps × 5) untargeted and targeted", "input gradient A",
                   lambda p: 2 * max(16, p.eval_size // 5), lambda p: 25 * p.attack_steps),
        _per_image("L-BFGS (5·S iterations × 5 constants)", "input gradient A", lambda p: max(16, p.eval_size // 5),
                   lambda p: 25 * p.attack_steps),
        _per_image("transfer matrix: PGD on five models", "input gradient A", lambda p: 5 * p.eval_size,
                   lambda p: p.attack_steps),
        _training("black-box substitute (6 rounds × 10 epochs, batch 32)", "classifier E, batch 32",
                  lambda p: 10 * SUBSTITUTE_STEPS_PER_EPOCH_SUM),
        _training("detector (PGD examples in every batch)", "PGD training step",
                  lambda p: p.adversarial_epochs * steps_per_epoch(p)),
        _per_image("detector evaluation: PGD, targeted PGD-2S, adaptive PGD", "input gradient A",
                   lambda p: 5 * p.eval_size, lambda p: p.attack_steps),
        _training("adversarial training with labelled (static) and FGSM examples", "FGSM training step",
                  lambda p: 2 * p.adversarial_epochs * steps_per_epoch(p)),
        _training("PGD adversarial training", "PGD training step", lambda p: p.adversarial_epochs * steps_per_epoch(p)),
        _training("defensive distillation: teacher and student", "classifier A",
                  lambda p: 2 * p.classifier_epochs * steps_per_epoch(p)),
        _per_image("defense table: PGD on five models", "input gradient A", lambda p: 5 * p.eval_size,
                   lambda p: p.attack_steps),
        _per_image("defense table: C&W (5·S steps × 5) on five models", "input gradient A",
                   lambda p: 5 * max(16, p.eval_size // 5), lambda p: 25 * p.attack_steps),
        _per_image("distillation: PGD with two restarts", "input gradient A", lambda p: 2 * p.eval_size,
                   lambda p: p.attack_steps),
    ),
    "07_advgan": (
        *_classifiers("ABCD"),
        _training("AdvGAN: 4 untargeted, 2 ablations, 10 targeted, 6 black-box, 3 against defenses", "AdvGAN step",
                  lambda p: 25 * p.attack_gan_iterations),
        _training("distilled student (architecture E)", "classifier E", lambda p: p.classifier_epochs * steps_per_epoch(p)),
        _training("FGSM and ensemble adversarial training", "FGSM training step",
                  lambda p: 2 * p.adversarial_epochs * steps_per_epoch(p)),
        _training("PGD adversarial training", "PGD training step", lambda p: p.adversarial_epochs * steps_per_epoch(p)),
        _per_image("PGD scoring and timing", "input gradient A", lambda p: 11 * p.eval_size,
                   lambda p: p.attack_steps),
        _per_image("strong PGD (5·S steps × 5 restarts) on four models", "input gradient A",
                   lambda p: 4 * p.eval_size, lambda p: 25 * p.attack_steps),
    ),
    "08_aigan": (
        *_classifiers("ABCD"),
        _training("AI-GAN: one against A, twelve in the fair comparison", "AI-GAN step",
                  lambda p: 13 * 2 * p.attack_gan_iterations),
        _training("AdvGAN: 10 targeted against A, 36 in the fair comparison", "AdvGAN step",
                  lambda p: 46 * p.attack_gan_iterations),
        _training("FGSM and ensemble adversarial training", "FGSM training step",
                  lambda p: 2 * p.adversarial_epochs * steps_per_epoch(p)),
        _training("PGD adversarial training", "PGD training step", lambda p: p.adversarial_epochs * steps_per_epoch(p)),
        _per_image("targeted PGD: timing and the fair comparison's ceiling", "input gradient A",
                   lambda p: 3 * p.eval_size + 12 * p.eval_size, lambda p: p.attack_steps),
    ),
    "09_defense_gan": (
        *_classifiers("ABCD"),
        _training("WGAN-GP", "WGAN-GP step", lambda p: p.critic_gan_iterations, "wgan-gp"),
        _per_image("projections: clean, 12 attacked sets, 12 sets against Rec models, the substitute's (×2)",
                   "projection step", lambda p: 27 * p.defense_eval_size * p.projection_restarts,
                   lambda p: p.projection_steps, chunk=256 * 10),
        _per_image("projections of the Rec classifiers' training images (1 restart)", "projection step",
                   lambda p: min(p.train_size or TRAIN_IMAGES, 6 * p.eval_size), lambda p: p.projection_steps,
                   chunk=256),
        _training("four Rec classifiers, fine-tuned on reconstructions", "classifier A",
                  lambda p: 4 * p.classifier_epochs * math.ceil(min(p.train_size or TRAIN_IMAGES, 6 * p.eval_size)
                                                                / p.batch_size)),
        _training("four FGSM-trained classifiers (ε = 0.15)", "FGSM training step",
                  lambda p: 4 * p.adversarial_epochs * steps_per_epoch(p)),
        _training("MagNet's autoencoder (3E epochs)", "MagNet step", lambda p: 3 * p.classifier_epochs * steps_per_epoch(p)),
        _per_image("C&W (5·S steps) on the bare and Rec classifiers", "input gradient A",
                   lambda p: 12 * p.defense_eval_size, lambda p: 5 * p.attack_steps),
        _per_image("the L×R grid (L/4 … 4L, 2R restarts)", "projection step",
                   lambda p: p.defense_eval_size // 2 * 2 * p.projection_restarts,
                   lambda p: 7.75 * p.projection_steps, chunk=256 * 20),
        _per_image("matrix at two ε: scoring (clean, FGSM, PGD, substitute, adaptive)", "projection step",
                   lambda p: 2 * (4 * p.defense_eval_size + p.adaptive_eval_size) * p.projection_restarts,
                   lambda p: p.projection_steps, chunk=256 * 10),
        _per_image("matrix at two ε: BPDA-PGD crafting (the defense judges every candidate)", "projection step",
                   lambda p: 2 * p.adaptive_eval_size * p.projection_restarts,
                   lambda p: (2 * _adaptive_attacker_steps(p) + 2) * p.projection_steps, chunk=256 * 10),
        _per_image("latent-space search: two projections of its images", "projection step",
                   lambda p: 2 * p.adaptive_eval_size * p.projection_restarts, lambda p: p.projection_steps),
        _per_image("BPDA pictures: 10 images, one projection per attack step, two ε", "projection step",
                   lambda p: 10 * p.projection_restarts,
                   lambda p: 2 * (_adaptive_attacker_steps(p) + 1) * p.projection_steps),
    ),
    "10_ape_gan": (
        *_classifiers("ABC"),
        _training("APE-GAN: lecture weights for A, B, C; official weights for A", "APE-GAN step",
                  lambda p: 4 * p.ape_gan_iterations),
        _per_image("PGD and DeepFool on three models", "input gradient A", lambda p: 3 * p.defense_eval_size,
                   lambda p: 2 * p.attack_steps),
        _per_image("JSMA (≤ 39 iterations, chunks of 8) on three models", "DeepFool step A",
                   lambda p: 3 * p.defense_eval_size, lambda p: 39, chunk=8),
        _per_image("L-BFGS (S iterations × 5 constants) on three models", "input gradient A",
                   lambda p: 3 * p.defense_eval_size, lambda p: 5 * p.attack_steps),
        _per_image("C&W (100 steps × 5) on three models and through the purifier", "input gradient A",
                   lambda p: 4 * p.defense_eval_size, lambda p: 500),
        _per_image("PGD through the purifier and with BPDA", "input gradient through APE-GAN",
                   lambda p: 2 * p.defense_eval_size, lambda p: p.attack_steps),
        _per_image("strong PGD through the purifier (5·S steps × 5 restarts) and its ε sweep (3 ε × 2 restarts)",
                   "input gradient through APE-GAN", lambda p: p.defense_eval_size, lambda p: 55 * p.attack_steps),
    ),
    "11_robustness_matrix": (
        *_classifiers("A"),
        _training("WGAN-GP", "WGAN-GP step", lambda p: p.critic_gan_iterations, "wgan-gp"),
        _training("FGSM adversarial training", "FGSM training step", lambda p: p.adversarial_epochs * steps_per_epoch(p)),
        _training("PGD adversarial training and the detector", "PGD training step",
                  lambda p: 2 * p.adversarial_epochs * steps_per_epoch(p)),
        _training("defensive distillation: teacher and student", "classifier A",
                  lambda p: 2 * p.classifier_epochs * steps_per_epoch(p)),
        _training("MagNet's autoencoder (3E epochs)", "MagNet step", lambda p: 3 * p.classifier_epochs * steps_per_epoch(p)),
        _training("APE-GAN", "APE-GAN step", lambda p: p.ape_gan_iterations),
        _training("AdvGAN", "AdvGAN step", lambda p: p.attack_gan_iterations),
        _training("AI-GAN", "AI-GAN step", lambda p: 2 * p.attack_gan_iterations),
        _training("substitute (6 rounds × 2E epochs, batch 32)", "classifier E, batch 32",
                  lambda p: 2 * p.classifier_epochs * SUBSTITUTE_STEPS_PER_EPOCH_SUM),
        _per_image("PGD and the adaptive PGD (2 restarts) on seven columns", "input gradient A",
                   lambda p: 4 * p.eval_size + 7 * 2 * p.eval_size, lambda p: p.attack_steps),
        _per_image("DeepFool and JSMA on four networks", "DeepFool step A", lambda p: 8 * p.adaptive_eval_size,
                   lambda p: p.attack_steps),
        _per_image("C&W (100 steps × 5) on four networks", "input gradient A", lambda p: 4 * p.adaptive_eval_size,
                   lambda p: 500),
        _per_image("AutoAttack APGD-CE + APGD-DLR on five columns", "input gradient A", lambda p: 5 * p.eval_size,
                   lambda p: 2 * min(100, 5 * p.attack_steps)),
        _per_image("Defense-GAN: scoring every row", "projection step",
                   lambda p: (7 * p.defense_eval_size + 4 * p.adaptive_eval_size) * p.projection_restarts,
                   lambda p: p.projection_steps, chunk=256 * 10),
        _per_image("Defense-GAN: adaptive PGD with tangent BPDA, EOT 2, 2 restarts, candidates judged by up to 3 "
                   "calls", "projection step", lambda p: 2 * p.adaptive_eval_size * p.projection_restarts,
                   _judged_attack_steps, chunk=256 * 10),
        _per_image("Defense-GAN: the ε sweep (40 images, three ε)", "projection step",
                   lambda p: 3 * 40 * 2 * p.projection_restarts, _judged_attack_steps, chunk=256 * 10),
        _per_image("Defense-GAN: every bounded row and the clean images scored by 5 more calls", "projection step",
                   lambda p: 5 * 8 * p.adaptive_eval_size * p.projection_restarts, lambda p: p.projection_steps,
                   chunk=256 * 10),
    ),
}


def _loader(batch: int, labelled: bool = True) -> DataLoader:
    random = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 1, 28, 28, generator=random)
    tensors = (images, torch.randint(0, 10, (batch,), generator=random)) if labelled else (images,)
    return DataLoader(TensorDataset(*tensors), batch_size=batch)


def _scaled(work: Workload, factor: float, unit: str) -> Workload:
    """``work`` counted on a small batch, its FLOPs scaled to a batch ``factor`` times larger (FLOPs grow with the
    batch; the operation count does not)."""
    return dataclasses.replace(work, flops=round(work.flops * factor), unit=unit)


def _trainer_step(name: str, run: Callable[[], object]) -> Workload:
    flops, operations = count_work(run)
    return Workload(name, f"one step, batch {UNIT_BATCH}", flops, run, operations)


def _gan_step(conditional: bool) -> Workload:
    from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from gancourse.train.gan import GANSetup, train_gan
    from gancourse.train.loop import endless

    classes = 10 if conditional else 0
    G, D = DCGANGenerator(100, (1, 28, 28), num_classes=classes), DCGANDiscriminator((1, 28, 28), num_classes=classes)
    setup = GANSetup(G, D, torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4),
                     conditional=conditional)
    batches = endless(_loader(UNIT_BATCH))
    return _trainer_step("cGAN step" if conditional else "DCGAN step",
                         lambda: train_gan(setup, batches, 1, progress_bar=False))


def _toy_step() -> Workload:
    from gancourse.models.toy import MLPDiscriminator, MLPGenerator
    from gancourse.train.gan import GANSetup, train_gan
    from gancourse.train.loop import endless

    G, D = MLPGenerator(2, 2), MLPDiscriminator(2)
    setup = GANSetup(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()))
    batches = endless(DataLoader(TensorDataset(torch.randn(256, 2), torch.zeros(256, dtype=torch.long)), batch_size=256))
    return _trainer_step("toy GAN step", lambda: train_gan(setup, batches, 1, progress_bar=False))


def _cyclegan_step() -> Workload:
    from torch import nn

    from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
    from gancourse.train.cyclegan import train_cyclegan

    networks = nn.ModuleDict({"G_ab": CycleGenerator(1), "G_ba": CycleGenerator(1), "D_a": PatchDiscriminator(1),
                              "D_b": PatchDiscriminator(1)})
    return _trainer_step("CycleGAN step", lambda: train_cyclegan(networks, _loader(UNIT_BATCH), _loader(UNIT_BATCH), 1))


def _stylegan_step() -> Workload:
    from gancourse.models.stylegan import StyleDiscriminator, StyleGenerator
    from gancourse.train.stylegan import train_stylegan

    G, D = StyleGenerator(1), StyleDiscriminator(1)
    return _trainer_step("StyleGAN step", lambda: train_stylegan(G, D, _loader(UNIT_BATCH), 1))


def _attack_gan_step(attacker_steps: int | None) -> Workload:
    from gancourse.attacks.advgan import train_advgan
    from gancourse.attacks.aigan import train_aigan
    from gancourse.models.advgan import PerturbationDiscriminator, PerturbationGenerator
    from gancourse.models.classifiers import build_classifier

    target = build_classifier("A").eval().requires_grad_(False)
    classes = 0 if attacker_steps is None else 10
    G = PerturbationGenerator(1, 0.1, num_classes=classes)
    D = PerturbationDiscriminator(1, num_classes=classes)
    if attacker_steps is None:
        return _trainer_step("AdvGAN step", lambda: train_advgan(G, D, target, _loader(UNIT_BATCH), 1))
    return _trainer_step("AI-GAN step", lambda: train_aigan(G, D, target, _loader(UNIT_BATCH), 1,
                                                            attacker_steps=attacker_steps))


def _ape_gan_step() -> Workload:
    from gancourse.attacks import FGSM
    from gancourse.defenses.ape_gan import train_ape_gan
    from gancourse.models.ape_gan import APEDiscriminator, APEGenerator
    from gancourse.models.classifiers import build_classifier

    fgsm = FGSM(build_classifier("A").eval(), 0.1)
    G, D = APEGenerator(1), APEDiscriminator(1, 28)
    return _trainer_step("APE-GAN step", lambda: train_ape_gan(G, D, fgsm, _loader(UNIT_BATCH), 1))


def _deepfool_step() -> Workload:
    from gancourse.attacks import DeepFool
    from gancourse.models.classifiers import build_classifier

    model = build_classifier("A").eval()
    images, labels = next(iter(_loader(1)))
    flops, operations = count_work(lambda: DeepFool(model, steps=1)(images, labels))
    return Workload("DeepFool step A", "one image", flops, lambda: DeepFool(model, steps=1)(images, labels), operations)


def _purified_gradient() -> Workload:
    """One image's input gradient through APE-GAN's generator and classifier A (an attack step through the
    purifier)."""
    from torch import nn

    from gancourse.models.ape_gan import APEGenerator
    from gancourse.models.classifiers import build_classifier

    pipeline = nn.Sequential(APEGenerator(1), build_classifier("A")).eval().requires_grad_(False)
    images, labels = next(iter(_loader(1)))
    images.requires_grad_(True)

    def step() -> None:
        torch.autograd.grad(nn.functional.cross_entropy(pipeline(images), labels), images)

    flops, operations = count_work(step)
    return Workload("input gradient through APE-GAN", "one image", flops, step, operations)


def _adversarial_training_step(p: Profile, attack_steps: int) -> Workload:
    """A classifier A step at the profile's batch plus an attack of ``attack_steps`` input gradients on that batch
    (1 for FGSM training, ``adversarial_training_steps`` for PGD training and the detector's PGD examples)."""
    step, gradient = classifier_step("A", UNIT_BATCH), pgd_step("A", 1)
    flops = (step.flops + attack_steps * gradient.flops * UNIT_BATCH) * p.batch_size / UNIT_BATCH
    operations = step.operations + attack_steps * gradient.operations
    return Workload(f"classifier A step with {attack_steps} attack step(s)", f"batch {p.batch_size}", round(flops),
                    step.run, operations)


def _magnet_step() -> Workload:
    from gancourse.defenses.magnet import magnet_autoencoder, train_autoencoder

    autoencoder = magnet_autoencoder(1)
    return _trainer_step("MagNet step", lambda: train_autoencoder(autoencoder, _loader(UNIT_BATCH), 1))


@functools.lru_cache(maxsize=8)
def unit_workloads(p: Profile) -> dict[str, Workload]:
    """Every unit :data:`CHAPTER_LOOPS` uses, counted now for profile ``p``'s batch (training units counted on
    :data:`UNIT_BATCH` images and scaled; per-image units on one image)."""
    b = p.batch_size / UNIT_BATCH
    units = {f"classifier {name}": _scaled(classifier_step(name, UNIT_BATCH), b, f"batch {p.batch_size}")
             for name in CLASSIFIER_ARCHITECTURES}
    units["classifier E, batch 32"] = _scaled(classifier_step("E", UNIT_BATCH), 32 / UNIT_BATCH, "batch 32")
    units["input gradient A"] = pgd_step("A", 1)
    units["DeepFool step A"] = _deepfool_step()
    units["input gradient through APE-GAN"] = _purified_gradient()
    units["projection step"] = projection_pass(1)
    units["toy GAN step"] = _toy_step()
    units["DCGAN step"] = _scaled(_gan_step(False), b, f"batch {p.batch_size}")
    units["cGAN step"] = _scaled(_gan_step(True), b, f"batch {p.batch_size}")
    units["WGAN-GP step"] = _scaled(wgan_gp_step(UNIT_BATCH), 50 / UNIT_BATCH, "batch 50")
    units["CycleGAN step"] = _scaled(_cyclegan_step(), 16 / UNIT_BATCH, "batch 16")
    units["StyleGAN step"] = _scaled(_stylegan_step(), 32 / UNIT_BATCH, "batch 32")
    units["AdvGAN step"] = _scaled(_attack_gan_step(None), b, f"batch {p.batch_size}")
    units["AI-GAN step"] = _scaled(_attack_gan_step(max(10, p.adversarial_training_steps)), b, f"batch {p.batch_size}")
    units["APE-GAN step"] = _scaled(_ape_gan_step(), b, f"batch {p.batch_size}")
    units["FGSM training step"] = _adversarial_training_step(p, 1)
    units["PGD training step"] = _adversarial_training_step(p, p.adversarial_training_steps)
    units["MagNet step"] = _scaled(_magnet_step(), b, f"batch {p.batch_size}")
    return units


@dataclasses.dataclass(frozen=True)
class LoopCost:
    """A loop's units, FLOPs and the operations of its sequential steps, for one profile and weights choice."""

    chapter: str
    what: str
    flops: float
    sequential_operations: float
    skipped: bool

    def seconds(self, flops_per_second: float) -> float:
        """max(FLOPs / rate, sequential operations · :data:`OPERATION_SECONDS`); 0 when skipped."""
        if flops_per_second <= 0:
            raise ValueError(f"the rate must be positive, got {flops_per_second}")
        return 0.0 if self.skipped else max(self.flops / flops_per_second,
                                            self.sequential_operations * OPERATION_SECONDS)


def chapter_costs(p: Profile, weights: str = "published",
                  units: dict[str, Workload] | None = None) -> dict[str, list[LoopCost]]:
    """Every chapter's loops costed for profile ``p``; with ``weights="published"`` the loops that train a published
    model are marked skipped (they load the file instead)."""
    if weights not in ("published", "train"):
        raise ValueError(f"weights must be 'published' or 'train', got {weights!r}")
    from gancourse.weights import published_names

    units = units if units is not None else unit_workloads(p)
    published = published_names() if weights == "published" else set()
    return {chapter: [LoopCost(chapter, loop.what, loop.units(p) * units[loop.unit].flops,
                               loop.sequential(p) * units[loop.unit].operations, loop.published in published)
                      for loop in loops]
            for chapter, loops in CHAPTER_LOOPS.items()}


ESTIMATED_CARDS = ("T4", "L4", "A100", "H100 SXM")
ESTIMATED_RUNS = (("cpu", "published"), ("gpu", "published"), ("gpu", "train"))


def estimates(runs: tuple[tuple[str, str], ...] = ESTIMATED_RUNS) -> dict[str, object]:
    """Predicted seconds of every chapter on each of :data:`ESTIMATED_CARDS` (peak from
    :data:`gancourse.costs.DEVICE_PEAKS` at :data:`gancourse.costs.ASSUMED_GPU_EFFICIENCY`), for each (profile,
    weights) of ``runs``, with the FLOPs and the loops that dominate: the JSON ``gancourse costs --chapters``
    writes and the execution report reads."""
    from gancourse.costs import ASSUMED_GPU_EFFICIENCY, gpu_peak
    from gancourse.profiles import PROFILES

    rates = {card: gpu_peak(card) * ASSUMED_GPU_EFFICIENCY for card in ESTIMATED_CARDS}
    chapters: dict[str, dict[str, object]] = {}
    for profile_name, weights in runs:
        profile = PROFILES[profile_name]
        for chapter, loops in chapter_costs(profile, weights, unit_workloads(profile)).items():
            seconds = {card: sum(loop.seconds(rate) for loop in loops) for card, rate in rates.items()}
            largest = max(loops, key=lambda loop: loop.seconds(rates["T4"]))
            chapters.setdefault(chapter, {})[f"{profile_name}/{weights}"] = {
                "flops": sum(0.0 if loop.skipped else loop.flops for loop in loops),
                "seconds": {card: round(value, 1) for card, value in seconds.items()},
                "largest_loop": largest.what, "largest_loop_share": round(
                    largest.seconds(rates["T4"]) / max(seconds["T4"], 1e-9), 3)}
    return {"assumptions": {"efficiency": ASSUMED_GPU_EFFICIENCY, "operation_seconds": OPERATION_SECONDS,
                            "flops_per_second": {card: rate for card, rate in rates.items()}},
            "chapters": chapters}
