"""The reference models: what the book publishes in ``weights/``, one row per model, with its reference budget,
its quality figure and the target it must reach.

A reference model is a zoo recipe run in the reference context: profile :data:`gancourse.profiles.REFERENCE`
(all of the dataset's training images; the paper's classifier training; for the GANs and attack GANs, more
steps than any chapter can train while the reader waits), seed 0. ``gancourse train-reference`` trains the
rows one after another (each resumable: an interrupted run continues from its last saved step), measures each
finished model's quality and, with ``--publish``, publishes it (:func:`gancourse.weights.publish`) with its
provenance. A chapter with ``weights="published"`` then loads it (:func:`gancourse.zoo.recipe.reference_first`).

Quality figures: a classifier's test accuracy on all 10,000 test images; a GAN's classifier-feature Fréchet
distance (the penultimate layer of the reference classifier A, as in chapter 02) between
:data:`FD_SAMPLES` samples and the 10,000 test images; an attack GAN's success rate on the test images
classifier A gets right.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from gancourse.attacks.advgan import AdvGAN
from gancourse.attacks.aigan import AIGAN, random_other_classes
from gancourse.checkpoints import CheckpointRecord, CheckpointStore
from gancourse.data import make_loaders
from gancourse.evaluate import attack_success_rate, class_shares, embed, frechet_distance, penultimate_features
from gancourse.files import atomic_write
from gancourse.networks import frozen_eval
from gancourse.paths import repository_root
from gancourse.profiles import REFERENCE, Profile
from gancourse.runtime import describe_device
from gancourse.weights import Entry, Provenance, PublishedWeights, publish
from gancourse.zoo import Zoo
from gancourse.zoo.gans import STYLEGAN_R1_GAMMA, WGAN_GP_STAGES
from gancourse.zoo.recipe import continued_seconds

FD_SAMPLES = 10_000  # generated images per Fréchet distance (against the whole test set)
SEED = 0
LEDGER_NAME = "reference-ledger.json"  # in the checkpoint store: wall seconds per model, summed over sittings

Quality = Callable[[Zoo, nn.Module, CheckpointRecord], dict[str, float]]


@dataclasses.dataclass(frozen=True)
class ReferenceModel:
    """One published model.

    Attributes:
        key: how ``gancourse train-reference`` names it, e.g. ``"wgan-gp"`` or ``"classifier-A@mnist5k"``.
        dataset: the dataset it is trained on.
        recipe: the zoo recipe, called on the reference zoo.
        budget: the reference budget in words (for the manifest's provenance).
        steps: its training steps (generator steps for a GAN, optimiser steps for a classifier).
        quality: its quality figures, name -> value.
        target: the quality it must reach, in words.
        dtype: how its tensors are published (float16 where the chapters' numbers do not change).
    """

    key: str
    dataset: str
    recipe: Callable[[Zoo], tuple[nn.Module, CheckpointRecord]]
    budget: str
    steps: int
    quality: Quality
    target: str
    dtype: str = "float16"


def _test_accuracy(zoo: Zoo, model: nn.Module, record: CheckpointRecord) -> dict[str, float]:
    return {"test_accuracy": float(record.metadata["test_accuracy"])}


def sample_images(generator: nn.Module, count: int, *, classes: int = 0, seed: int = SEED,
                  batch_size: int = 500) -> torch.Tensor:
    """``count`` samples G(z), z ~ N(0, I) drawn with ``seed`` (a conditional generator gets labels cycling
    through its ``classes``), on the CPU; a StyleGAN's 32×32 images are cropped back to the data's 28×28."""
    latents = torch.randn(count, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    labels = torch.arange(count) % classes if classes else None
    device = next(generator.parameters()).device
    images = []
    with torch.no_grad(), frozen_eval(generator):
        for start in range(0, count, batch_size):
            z = latents[start:start + batch_size].to(device)
            batch = generator(z, labels[start:start + batch_size].to(device)) if classes else generator(z)
            images.append(batch.cpu())
    images = torch.cat(images)
    if images.shape[-1] == 32:
        images = images[..., 2:30, 2:30]
    return images


def _fd(zoo: Zoo, images: torch.Tensor) -> float:
    classifier, _ = zoo.classifier("A")
    features = penultimate_features(classifier)
    return frechet_distance(embed(features, images), embed(features, zoo.bundle.test_images))


def _gan_fd(conditional: bool = False) -> Quality:
    def quality(zoo: Zoo, pair: nn.Module, record: CheckpointRecord) -> dict[str, float]:
        classes = len(zoo.bundle.info.classes) if conditional else 0
        return {"frechet_distance": _fd(zoo, sample_images(pair["generator"], FD_SAMPLES, classes=classes))}
    return quality


def _stylegan_quality(zoo: Zoo, pair: nn.Module, record: CheckpointRecord) -> dict[str, float]:
    images = sample_images(pair["generator"], FD_SAMPLES)
    classifier, _ = zoo.classifier("A")
    shares = class_shares(classifier, images, len(zoo.bundle.info.classes))
    return {"frechet_distance": _fd(zoo, images), "smallest_class_share": float(shares.min())}


def _attack_success(conditional: bool) -> Quality:
    def quality(zoo: Zoo, pair: nn.Module, record: CheckpointRecord) -> dict[str, float]:
        classifier, _ = zoo.classifier("A")
        images, labels = zoo.bundle.test_images, zoo.bundle.test_labels
        if conditional:
            targets = random_other_classes(labels, len(zoo.bundle.info.classes), torch.Generator().manual_seed(SEED))
            adversarial = AIGAN(classifier, pair["generator"])(images, target=targets)
            return {"targeted_success": attack_success_rate(classifier, images, adversarial, labels, targets)}
        adversarial = AdvGAN(classifier, {"untargeted": pair["generator"]})(images, labels)
        return {"untargeted_success": attack_success_rate(classifier, images, adversarial, labels)}
    return quality


def _classifier(name: str, dataset: str = "fashion-mnist", images: int = 60_000) -> ReferenceModel:
    steps = REFERENCE.classifier_epochs * -(-images // REFERENCE.batch_size)
    return ReferenceModel(
        f"classifier-{name}" + ("" if dataset == "fashion-mnist" else f"@{dataset}"), dataset,
        lambda zoo: zoo.classifier(name),
        f"the Defense-GAN paper's training: all {images:,} training images, {REFERENCE.classifier_epochs} epochs, "
        f"batch {REFERENCE.batch_size}, Adam 1e-3", steps, _test_accuracy, "the paper's training budget")


def _stages(steps: int, stages: tuple[int, ...]) -> str:
    """How a budget trained in stages was trained, in words ("" for one sitting)."""
    sittings = [stage for stage in stages if stage <= steps]
    if steps not in stages or len(sittings) < 2:
        return ""
    return (", in " + str(len(sittings)) + " stages ending at steps " + ", ".join(f"{stage:,}" for stage in sittings)
            + ", each continuing the one before with fresh Adam state")


def _wgan_gp(dataset: str = "fashion-mnist") -> ReferenceModel:
    return ReferenceModel(
        "wgan-gp" + ("" if dataset == "fashion-mnist" else f"@{dataset}"), dataset, lambda zoo: zoo.wgan_gp(),
        f"{REFERENCE.critic_gan_iterations:,} generator steps × 5 critic steps, batch 50, λ = 10, Adam 1e-4 "
        "β = (0.5, 0.9), all training images (the paper's code: 200,000 generator steps)"
        + _stages(REFERENCE.critic_gan_iterations, WGAN_GP_STAGES),
        REFERENCE.critic_gan_iterations, _gan_fd(), "Fréchet distance ≤ 60")


REFERENCE_MODELS: tuple[ReferenceModel, ...] = (
    _classifier("A"), _classifier("B"), _classifier("C"), _classifier("D"), _classifier("E"),
    _wgan_gp(),
    ReferenceModel("dcgan", "fashion-mnist", lambda zoo: zoo.dcgan(),
                   f"{REFERENCE.gan_iterations:,} generator steps, batch {REFERENCE.batch_size}, Adam 2e-4 "
                   "β = (0.5, 0.999)", REFERENCE.gan_iterations, _gan_fd(), "Fréchet distance ≤ 60"),
    ReferenceModel("cgan", "fashion-mnist", lambda zoo: zoo.dcgan(conditional=True),
                   f"{REFERENCE.gan_iterations:,} generator steps, batch {REFERENCE.batch_size}, Adam 2e-4 "
                   "β = (0.5, 0.999)", REFERENCE.gan_iterations, _gan_fd(conditional=True),
                   "Fréchet distance ≤ 60"),
    ReferenceModel("stylegan", "fashion-mnist", lambda zoo: zoo.stylegan(),
                   f"{REFERENCE.stylegan_iterations:,} steps of batch 32, lr 0.001 (equalised), R1 γ = "
                   f"{STYLEGAN_R1_GAMMA:g} (the best of 0.1, 1 and 10 at 3,000 steps: `gancourse stylegan-r1-sweep`), "
                   "style mixing 0.9", REFERENCE.stylegan_iterations, _stylegan_quality,
                   "Fréchet distance ≤ 60 and every class ≥ 4% of 10,000 samples (classifier A's labels)"),
    ReferenceModel("advgan-A", "fashion-mnist", lambda zoo: zoo.advgan("A"),
                   f"{REFERENCE.attack_gan_iterations:,} generator steps, batch {REFERENCE.batch_size}",
                   REFERENCE.attack_gan_iterations, _attack_success(conditional=False),
                   "trained until its success rate stops rising"),
    ReferenceModel("aigan-A", "fashion-mnist", lambda zoo: zoo.aigan("A"),
                   f"{2 * REFERENCE.attack_gan_iterations:,} generator steps (one generator for every target), "
                   f"batch {REFERENCE.batch_size}", 2 * REFERENCE.attack_gan_iterations,
                   _attack_success(conditional=True), "trained until its success rate stops rising"),
    _classifier("A", "mnist5k", 4_000), _wgan_gp("mnist5k"),
)
"""In training order: each model's dependencies (classifier A for every quality figure and attack) come first."""


def stylegan_r1_sweep(gammas: Iterable[float], iterations: int, store: CheckpointStore,
                      device: torch.device | str = "cpu", *, dataset: str = "fashion-mnist",
                      reference: Profile = REFERENCE, published: PublishedWeights | None = None,
                      ) -> dict[float, dict[str, float]]:
    """The StyleGAN trained for ``iterations`` steps on all of ``dataset`` (at the ``reference`` budget
    otherwise) with each R1 weight γ in ``gammas`` (resumable, stored like every model), and each one's
    quality: Fréchet distance and smallest class share of 10,000 samples — how the book's γ
    (:data:`gancourse.zoo.gans.STYLEGAN_R1_GAMMA`) is chosen."""
    budget = dataclasses.replace(reference, stylegan_iterations=iterations)
    zoo = reference_zoo(dataset, store, device, reference=budget, published=published)
    results = {}
    for gamma in gammas:
        pair, record = zoo.stylegan(r1_gamma=gamma)
        results[gamma] = _stylegan_quality(zoo, pair, record)
        print(f"R1 γ = {gamma:g}, {iterations:,} steps: " + ", ".join(f"{name} {value:.4g}"
                                                                   for name, value in results[gamma].items()),
              flush=True)
    return results


def reference_model(key: str) -> ReferenceModel:
    """The row called ``key``."""
    for row in REFERENCE_MODELS:
        if row.key == key:
            return row
    raise ValueError(f"no reference model {key!r}; the reference models are "
                     f"{', '.join(row.key for row in REFERENCE_MODELS)}")


def reference_zoo(dataset: str, store: CheckpointStore, device: torch.device | str = "cpu", *,
                  train: bool = True, reference: Profile = REFERENCE,
                  published: PublishedWeights | None = None) -> Zoo:
    """The zoo of the reference models: profile :data:`REFERENCE`, all of ``dataset``, seed 0; with ``train``
    it trains what ``store`` and the ``published`` weights (default: the book's) lack (``weights="reference"``),
    without it a missing model is a :class:`gancourse.zoo.recipe.NotPublished` error (``weights="lookup"``)."""
    return Zoo(reference, make_loaders(dataset, reference, SEED), SEED, device, store,
               "reference" if train else "lookup", published=published or PublishedWeights(), reference=reference)


def _ledger(store: CheckpointStore) -> dict[str, float]:
    path = store.root / LEDGER_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def _add_to_ledger(store: CheckpointStore, file: str, seconds: float) -> float:
    ledger = _ledger(store)
    ledger[file] = ledger.get(file, 0.0) + seconds
    store.root.mkdir(parents=True, exist_ok=True)
    with atomic_write(store.root / LEDGER_NAME, "w") as handle:
        json.dump(ledger, handle, indent=1, sort_keys=True)
    return ledger[file]


def _unfinished(row: ReferenceModel) -> str:
    """The ledger's entry for the sittings of ``row`` that were interrupted before it finished."""
    return f"unfinished: {row.key}"


def _take_from_ledger(store: CheckpointStore, entry: str) -> float:
    """Remove ``entry`` from the ledger and return its seconds (0 if absent)."""
    ledger = _ledger(store)
    seconds = ledger.pop(entry, 0.0)
    if seconds:
        with atomic_write(store.root / LEDGER_NAME, "w") as handle:
            json.dump(ledger, handle, indent=1, sort_keys=True)
    return seconds


def package_commit() -> str:
    """The checkout's git commit (``"unknown"`` outside a git checkout), with ``+changes`` when it has
    uncommitted changes to the package."""
    root = repository_root()
    if root is None:
        return "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


@dataclasses.dataclass(frozen=True)
class Trained:
    """A finished reference model: its row, checkpoint record and provenance (quality measured now)."""

    row: ReferenceModel
    record: CheckpointRecord
    provenance: Provenance


def train_reference(rows: Iterable[ReferenceModel], store: CheckpointStore, device: torch.device | str = "cpu",
                    *, train: bool = True, on_done: Callable[[Trained], None] | None = None,
                    reference: Profile = REFERENCE, published: PublishedWeights | None = None) -> list[Trained]:
    """Train (or load, where the store or the published weights have them; without ``train``, only load) each
    row in order, measure its quality, and call ``on_done`` with the result as soon as it is finished (e.g. to
    publish it). The wall time of every sitting is added up in the store's ledger, so a training resumed over
    several runs reports its whole time."""
    done = []
    zoos: dict[str, Zoo] = {}
    for row in rows:
        if row.dataset not in zoos:
            zoos[row.dataset] = reference_zoo(row.dataset, store, device, train=train, reference=reference,
                                              published=published)
        zoo = zoos[row.dataset]
        print(f"{row.key}: {row.budget}", flush=True)
        started = time.perf_counter()
        try:
            model, record = row.recipe(zoo)
        except BaseException:           # an interrupted sitting (Ctrl-C, SIGTERM): its time still counts
            if train:
                _add_to_ledger(store, _unfinished(row), time.perf_counter() - started)
            raise
        seconds = time.perf_counter() - started if record.source == "trained" else 0.0
        if record.source == "trained":
            seconds += _take_from_ledger(store, _unfinished(row))
        if record.source == "loaded" and record.path.name not in _ledger(store):
            seconds = float(record.metadata.get("train_seconds", 0.0))  # trained outside train-reference
        wall = _add_to_ledger(store, record.path.name, seconds) + continued_seconds(record)
        if record.source == "published":
            wall = float(record.metadata["published"]["wall_seconds"])
        quality = row.quality(zoo, model, record)
        provenance = Provenance(row.budget, row.steps, round(wall, 1), describe_device(torch.device(device)),
                                package_commit(), datetime.date.today().isoformat(),
                                {name: round(value, 4) for name, value in quality.items()})
        print(f"{row.key}: {record.source}, {wall / 3600:.2f} h, "
              + ", ".join(f"{name} {value:.4g}" for name, value in quality.items()) + f" (target: {row.target})",
              flush=True)
        trained = Trained(row, record, provenance)
        done.append(trained)
        if on_done is not None:
            on_done(trained)
    return done


def publish_trained(store: CheckpointStore, trained: Trained, folder: str | Path | None = None) -> Entry | None:
    """Publish a finished reference model (:func:`gancourse.weights.publish`) with its row's dtype; None when this
    run loaded it from the published weights. Publishing a model already published is idempotent: the store then
    holds it as published (:func:`gancourse.weights.publish`), the same bytes, the same entry."""
    if trained.record.source == "published":
        return None
    return publish(store, trained.record.name, trained.record.config, trained.row.dtype, trained.provenance,
                   folder=folder)
