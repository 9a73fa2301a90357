"""Recipes for the image GANs: chapter 01's DCGAN, chapter 03's cGAN, chapter 02's WGAN-GP (the generator
Defense-GAN projects onto), chapter 04's CycleGAN and chapter 05's small StyleGAN."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.checkpoints import CheckpointRecord, ProgressFile
from gancourse.data import class_loader, labelled_subset
from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancourse.models.stylegan import StyleDiscriminator, StyleGenerator
from gancourse.models.wgan_gp import WGANGPCritic, WGANGPGenerator
from gancourse.train.cyclegan import CYCLE_WEIGHT, train_cyclegan
from gancourse.train.gan import GANSetup, Snapshots, continue_gan, train_gan
from gancourse.train.loop import History, endless
from gancourse.train.stylegan import train_stylegan
from gancourse.zoo.recipe import REFERENCE_MODES, Call, RecipeContext, reference_first, training_seconds

SNAPSHOT_SAMPLES = 500  # enough samples for a Fréchet distance on 128-d features at every snapshot
CYCLEGAN_BATCH = 16  # the paper trains with batch 1; 16 keeps a CPU step short and instance norm is per image
STYLEGAN_BATCH = 32  # half the profile's usual batch: a StyleGAN step (with R1's double backward) costs ~4 DCGAN steps
WGAN_GP_BATCH = 50  # the Defense-GAN paper's batch
# R1 weight γ of the book's StyleGAN, chosen by `gancourse stylegan-r1-sweep 0.1 1 10 --steps 3000` (2026-12-06,
# Fashion-MNIST, 10,000 samples): Fréchet distance 108.5 / 111.9 / 124.4, smallest class share 5.3% / 4.6% / 3.3%
STYLEGAN_R1_GAMMA = 0.1


WGAN_GP_STAGES = (3_500, 7_000, 10_500)
"""The reference WGAN-GP's budgets, trained one stage per sitting (2 CPU cores train about 3,000 of its
generator steps an hour): the model of each budget after the first continues the model of the budget before
it — generator, critic, snapshots and history, with fresh Adam state — and is published on its own."""


@dataclasses.dataclass(frozen=True)
class Continuation:
    """An earlier model a GAN's training starts from: ``model()`` gives it (and its record), after ``steps``
    generator steps."""

    steps: int
    model: Callable[[], tuple[nn.ModuleDict, CheckpointRecord]]


def snapshot_steps(iterations: int, points: int = 6) -> list[int]:
    """Steps 0, …, ``iterations`` spaced roughly geometrically (early training changes fastest)."""
    if iterations < 1:
        return [0]
    steps = {0, iterations}
    for k in range(1, points - 1):
        steps.add(max(1, round(iterations ** (k / (points - 1)))))
    return sorted(steps)


def _adam(lr: float, betas: tuple[float, float]) -> Call:
    return Call(torch.optim.Adam, lr=lr, betas=betas)


class GANRecipes(RecipeContext):
    """Image-GAN recipes (mixed into :class:`gancourse.zoo.Zoo`)."""

    def _pair_gan(self, name: str, generator: Call, discriminator: Call, optimiser: Call, setup: Call,
                  loader: DataLoader, iterations: int, snapshots: Call, continues: Continuation | None = None,
                  data: dict[str, Any] | None = None) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """A generator/discriminator pair trained by :func:`gancourse.train.gan.train_gan`; with ``continues``,
        the training starts from that earlier model (:func:`gancourse.train.gan.continue_gan`) and the
        record's metadata names it under ``continued_from`` (file, steps, training seconds); ``data`` describes
        a loader over less than the bundle's training set (it enters the config)."""
        trainer = Call(train_gan, iterations=iterations, run_time=("snapshots",))

        def train(pair: nn.ModuleDict, progress: ProgressFile) -> History:
            G, D = pair["generator"], pair["discriminator"]
            gan = setup(G, D, optimiser(G.parameters()), optimiser(D.parameters()))
            if continues is not None and not progress.path.exists():
                earlier, record = continues.model()
                continue_gan(progress, gan, pair["snapshots"], earlier, record.metadata["history"], continues.steps)
            return trainer(gan, endless(loader), device=self.device, progress=progress, snapshots=pair["snapshots"])

        def continued_from(pair: nn.ModuleDict) -> dict[str, Any]:
            record = continues.model()[1]
            return {"continued_from": {"file": record.path.name, "steps": continues.steps,
                                       "train_seconds": training_seconds(record)}}

        return self.make(name, {"generator": generator, "discriminator": discriminator, "snapshots": snapshots},
                         trainer, train,
                         settings={"optimiser": optimiser.settings, "setup": setup.settings,
                                   "batch_size": loader.batch_size,
                                   **({"continues": {"steps": continues.steps}} if continues else {}),
                                   **({"training_data": data} if data else {})},
                         evaluate=continued_from if continues else None)

    @reference_first
    def dcgan(self, conditional: bool = False) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """Chapter 01's DCGAN (or, with ``conditional``, chapter 03's cGAN: the label enters G and D):
        latent 100, non-saturating loss, Adam(2e-4, β=(0.5, 0.999)), the profile's GAN iterations.

        Returns a ModuleDict with ``generator``, ``discriminator`` and ``snapshots`` (samples of a fixed
        noise batch during training; for the cGAN, the batch's labels cycle through the classes); the
        record's metadata holds the training history.
        """
        return self._dcgan_pair("cgan" if conditional else "dcgan", conditional, self.bundle.train_loader)

    def few_label_cgan(self, per_class: int) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """Chapter 03's cGAN trained only on ``per_class`` labelled images of each class (drawn from the bundle's
        training images with the run's seed by :func:`gancourse.data.labelled_subset`): the GAN that an
        application with few labels can actually train. Same networks, loss, optimiser and profile iterations as
        :meth:`dcgan` with ``conditional``."""
        images, labels = labelled_subset(self.bundle.train_images, self.bundle.train_labels, per_class, self.seed)
        loader = DataLoader(TensorDataset(images, labels), batch_size=self.bundle.train_loader.batch_size,
                            shuffle=True, generator=torch.Generator().manual_seed(self.seed))
        return self._dcgan_pair(f"cgan-{per_class}-per-class", True, loader,
                                {"labelled_per_class": per_class, "images": len(images)})

    def _dcgan_pair(self, name: str, conditional: bool, loader: DataLoader,
                    data: dict[str, Any] | None = None) -> tuple[nn.ModuleDict, CheckpointRecord]:
        iterations = self.profile.gan_iterations
        shape, classes = self.bundle.info.image_shape, len(self.bundle.info.classes) if conditional else 0
        return self._pair_gan(
            name, Call(DCGANGenerator, 100, shape, num_classes=classes),
            Call(DCGANDiscriminator, shape, num_classes=classes), _adam(2e-4, (0.5, 0.999)),
            Call(GANSetup, loss="non-saturating", conditional=conditional), loader, iterations,
            Call(Snapshots.drawn, snapshot_steps(iterations, points=9), SNAPSHOT_SAMPLES, 100, shape, classes,
                 seed=self.seed), data=data)

    @reference_first
    def wgan_gp(self, stages: tuple[int, ...] = WGAN_GP_STAGES) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """Chapter 02's WGAN-GP with the Defense-GAN paper's networks and settings: latent 128, batch 50,
        5 critic steps per generator step, λ = 10, Adam(1e-4, β=(0.5, 0.9)), the profile's critic-GAN
        iterations. Defense-GAN (chapter 09) projects onto this generator.

        In the reference context, a budget in ``stages`` after the first is trained as a continuation of the
        model of the budget before it (:data:`WGAN_GP_STAGES`); its snapshots are the first stage's and one
        at the end of each stage."""
        if self.bundle.info.image_shape != (1, 28, 28):
            raise ValueError(f"the Defense-GAN WGAN-GP is for 28×28 grey images, not {self.bundle.info.title}")
        if list(stages) != sorted(set(stages)) or not stages or stages[0] < 1:
            raise ValueError(f"stages must be distinct positive step counts in increasing order, got {stages}")
        iterations = self.profile.critic_gan_iterations
        continues = self._earlier_stage(iterations, stages) if self.weights in REFERENCE_MODES else None
        steps = (snapshot_steps(iterations, points=9) if continues is None else
                 snapshot_steps(stages[0], points=9) + [stage for stage in stages[1:] if stage <= iterations])
        loader = DataLoader(self.bundle.train_loader.dataset, batch_size=WGAN_GP_BATCH, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(self.seed))
        return self._pair_gan(
            "wgan-gp", Call(WGANGPGenerator, 128), Call(WGANGPCritic), _adam(1e-4, (0.5, 0.9)),
            Call(GANSetup, loss="wasserstein", d_steps=5, gradient_penalty_weight=10.0), loader, iterations,
            Call(Snapshots.drawn, steps, SNAPSHOT_SAMPLES, 128, (1, 28, 28), seed=self.seed), continues)

    def _earlier_stage(self, iterations: int, stages: tuple[int, ...]) -> Continuation | None:
        """The WGAN-GP stage that the one of ``iterations`` steps continues, if it is a later stage."""
        if iterations not in stages[1:]:
            return None
        earlier = stages[stages.index(iterations) - 1]
        budget = dataclasses.replace(self.profile, critic_gan_iterations=earlier)
        context = dataclasses.replace(self, profile=budget, reference=budget, shared={}, announce=False)
        return Continuation(earlier, lambda: context.wgan_gp(stages))

    def cyclegan(self, domain_a: int, domain_b: int, *,
                 cycle_weight: float = CYCLE_WEIGHT) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """CycleGAN between two classes of the dataset (object transfiguration, like the paper's horse ↔ zebra):
        ``G_ab``, ``G_ba``, ``D_a``, ``D_b`` trained for the profile's ``cyclegan_iterations`` with batch
        :data:`CYCLEGAN_BATCH` and the paper's weights; ``cycle_weight = 0`` is the ablation without cycle
        consistency (and identity)."""
        if domain_a == domain_b:
            raise ValueError(f"the two domains must be different classes, got {domain_a} twice")
        loader_a = class_loader(self.bundle, domain_a, CYCLEGAN_BATCH, self.seed)
        loader_b = class_loader(self.bundle, domain_b, CYCLEGAN_BATCH, self.seed + 1)
        name = f"cyclegan-{domain_a}-{domain_b}" + ("" if cycle_weight == CYCLE_WEIGHT else f"-cycle-{cycle_weight:g}")
        channels = self.bundle.info.image_shape[0]
        trainer = Call(train_cyclegan, iterations=self.profile.cyclegan_iterations, cycle_weight=cycle_weight,
                       seed=self.seed)
        return self.make(
            name, {"G_ab": Call(CycleGenerator, channels), "G_ba": Call(CycleGenerator, channels),
                   "D_a": Call(PatchDiscriminator, channels), "D_b": Call(PatchDiscriminator, channels)},
            trainer, lambda networks, progress: trainer(networks, loader_a, loader_b, device=self.device,
                                                        progress=progress),
            settings={"domains": [domain_a, domain_b], "batch_size": CYCLEGAN_BATCH})

    @reference_first
    def stylegan(self, r1_gamma: float = STYLEGAN_R1_GAMMA) -> tuple[nn.ModuleDict, CheckpointRecord]:
        """Chapter 05's small StyleGAN (:class:`gancourse.models.stylegan.StyleGenerator` with its defaults:
        32×32, latent 64, 4 mapping layers) and its discriminator, trained by
        :func:`gancourse.train.stylegan.train_stylegan` (style mixing, R1 with weight ``r1_gamma``, Adam
        β = (0, 0.99)) for the profile's ``stylegan_iterations`` at batch :data:`STYLEGAN_BATCH`; the images
        are padded from 28×28."""
        if self.bundle.info.image_shape[0] != 1:
            raise ValueError(f"the small StyleGAN is built for grey images; {self.bundle.info.name} has "
                             f"{self.bundle.info.image_shape[0]} channels")
        loader = DataLoader(TensorDataset(self.bundle.train_images, self.bundle.train_labels),
                            batch_size=STYLEGAN_BATCH, shuffle=True, generator=torch.Generator().manual_seed(self.seed))
        trainer = Call(train_stylegan, iterations=self.profile.stylegan_iterations, r1_gamma=r1_gamma, seed=self.seed)
        return self.make(
            "stylegan" if r1_gamma == STYLEGAN_R1_GAMMA else f"stylegan-r1-{r1_gamma:g}", {"generator": Call(StyleGenerator, 1), "discriminator": Call(StyleDiscriminator, 1)}, trainer,
            lambda pair, progress: trainer(pair["generator"], pair["discriminator"], loader, device=self.device,
                                           progress=progress),
            settings={"batch_size": STYLEGAN_BATCH})
