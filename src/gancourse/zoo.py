"""The book's trained models, each one call away: load from the checkpoint store, or train and store.

Chapters share models through these recipes, never through files copied by hand: chapter 01 trains the
DCGAN that chapter 02 compares against, chapter 02 trains the WGAN-GP generator that Defense-GAN
(chapter 09) projects onto, and the classifiers are trained once for every chapter that needs them. Each
recipe's configuration holds everything that changes the weights (architecture, data subset, budget,
optimiser, seed), so a different profile or seed is a different model.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.attacks import FGSM, PGD
from gancourse.attacks.advgan import AdvGANWeights, distill, train_advgan, train_advgan_dynamic
from gancourse.attacks.aigan import train_aigan
from gancourse.attacks.substitute import train_substitute
from gancourse.checkpoints import CheckpointRecord, CheckpointStore, ProgressFile
from gancourse.data import DataBundle, class_loader
from gancourse.defenses.adversarial_training import ADVERSARIAL_WEIGHTS, make_adversary
from gancourse.defenses.ape_gan import WEIGHTINGS, train_ape_gan
from gancourse.defenses.defense_gan import DefenseGAN
from gancourse.defenses.detector import detector_network, train_detector
from gancourse.defenses.magnet import magnet_autoencoder, train_autoencoder
from gancourse.evaluate import accuracy, predict
from gancourse.models.advgan import PerturbationDiscriminator, PerturbationGenerator
from gancourse.models.ape_gan import APEDiscriminator, APEGenerator
from gancourse.models.classifiers import build_classifier
from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancourse.models.stylegan import StyleDiscriminator, StyleGenerator
from gancourse.models.wgan_gp import WGANGPCritic, WGANGPGenerator
from gancourse.profiles import Profile
from gancourse.train.classifier import train_classifier
from gancourse.train.cyclegan import CYCLE_WEIGHT, train_cyclegan
from gancourse.train.gan import GANSetup, Snapshots, train_gan
from gancourse.train.loop import endless
from gancourse.train.stylegan import train_stylegan

ENSEMBLE_SOURCES = "ABCD"  # ensemble adversarial training of model X mixes in the others' FGSM examples
ADVGAN_WEIGHTS = AdvGANWeights(alpha=1.0, beta=1.0, c=1.5)  # c: an ℓ2 bound below PGD's at ε = 0.1 on 28×28
DEFENSES = ("none", "fgsm", "ensemble", "pgd")  # what an AdvGAN/AI-GAN recipe can be trained against
SNAPSHOT_SAMPLES = 500  # enough samples for a Fréchet distance on 128-d features at every snapshot


def snapshot_steps(iterations: int, points: int = 6) -> list[int]:
    """Steps 0, …, ``iterations`` spaced roughly geometrically (early training changes fastest)."""
    if iterations < 1:
        return [0]
    steps = {0, iterations}
    for k in range(1, points - 1):
        steps.add(max(1, round(iterations ** (k / (points - 1)))))
    return sorted(steps)


def _base_config(bundle: DataBundle, seed: int) -> dict[str, object]:
    """The part of every model's config that names its data; rejects a wrong bundle or seed first."""
    if not isinstance(bundle, DataBundle):
        raise TypeError(f"bundle must be the DataBundle of gancourse.data.make_loaders, got {type(bundle).__name__}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return {"dataset": bundle.info.name, "train_size": len(bundle.train_images), "seed": seed}


def classifier(name: str, bundle: DataBundle, profile: Profile, seed: int,
               device: torch.device | str = "cpu", store: CheckpointStore | None = None,
               ) -> tuple[nn.Module, CheckpointRecord]:
    """Classifier ``name`` (A–E, Defense-GAN paper) trained with Adam(1e-3) for the profile's epochs."""
    config = {"model": f"classifier-{name}", **_base_config(bundle, seed),
              "epochs": profile.classifier_epochs, "batch_size": profile.batch_size, "lr": 1e-3}

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return build_classifier(name).to(device)

    def train(model: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_classifier(model, bundle.train_loader, profile.classifier_epochs, lr=1e-3,
                                   device=device, progress=progress)
        return {"train_loss": history["loss"], "train_seconds": time.perf_counter() - started,
                "test_accuracy": accuracy(model, bundle.test_images, bundle.test_labels)}

    store = store or CheckpointStore()
    model, record = store.load_or_train(f"classifier-{name}", config, build, train)
    return model.to(device), record


def adversarially_trained(name: str, method: str, eps: float, bundle: DataBundle, profile: Profile, seed: int,
                          device: torch.device | str = "cpu", store: CheckpointStore | None = None,
                          ) -> tuple[nn.Module, CheckpointRecord]:
    """Classifier ``name`` fine-tuned on adversarial examples, starting from :func:`classifier`'s weights,
    for the profile's ``adversarial_epochs`` (Adam 1e-3). ``method`` is one of
    :data:`gancourse.defenses.adversarial_training.ADVERSARIAL_TRAINING_METHODS` (``static``: FGSM examples
    of the clean model; ``fgsm``; ``pgd`` with the profile's ``adversarial_training_steps``; ``ensemble`` with
    the other classifiers of :data:`ENSEMBLE_SOURCES` as static sources), ℓ∞ budget ``eps``.
    """
    clean, clean_record = classifier(name, bundle, profile, seed, device, store)
    steps = profile.adversarial_training_steps
    statics = {other: classifier(other, bundle, profile, seed, device, store)
               for other in ENSEMBLE_SOURCES if other != name} if method == "ensemble" else {}
    adversary = make_adversary(method, eps, fixed_model=clean, pgd_steps=steps,
                               static_models=[model for model, _ in statics.values()], seed=seed)
    config = {"model": f"classifier-{name}-adversarial-{method}", **_base_config(bundle, seed),
              "start": clean_record.path.name, "method": method, "eps": eps,
              "weight": ADVERSARIAL_WEIGHTS[method], "epochs": profile.adversarial_epochs,
              "batch_size": profile.batch_size, "lr": 1e-3, **({"pgd_steps": steps} if method == "pgd" else {}),
              **({"static_models": [r.path.name for _, r in statics.values()]} if statics else {})}

    def build() -> nn.Module:
        return copy.deepcopy(clean).to(device)

    def train(model: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_classifier(model, bundle.train_loader, profile.adversarial_epochs, lr=1e-3, device=device,
                                   progress=progress, adversary=adversary,
                                   adversarial_weight=ADVERSARIAL_WEIGHTS[method])
        return {"train_loss": history["loss"], "train_seconds": time.perf_counter() - started,
                "test_accuracy": accuracy(model, bundle.test_images, bundle.test_labels)}

    store = store or CheckpointStore()
    model, record = store.load_or_train(f"classifier-{name}-adversarial-{method}", config, build, train)
    return model.to(device), record


def detector(name: str, eps: float, bundle: DataBundle, profile: Profile, seed: int,
             device: torch.device | str = "cpu", store: CheckpointStore | None = None,
             ) -> tuple[nn.Module, CheckpointRecord]:
    """The "safety net" for classifier ``name``: a detector trained for the profile's ``adversarial_epochs`` on
    clean training images and their adversarial versions (half FGSM, half PGD with the profile's
    ``adversarial_training_steps``, budget ``eps``), all made against the clean classifier."""
    guarded, guarded_record = classifier(name, bundle, profile, seed, device, store)
    steps = profile.adversarial_training_steps
    fgsm, pgd = FGSM(guarded, eps), PGD(guarded, eps, steps=steps)
    config = {"model": f"detector-{name}", **_base_config(bundle, seed), "guards": guarded_record.path.name,
              "eps": eps, "attacks": ["fgsm", f"pgd-{steps}"], "epochs": profile.adversarial_epochs,
              "batch_size": profile.batch_size, "lr": 1e-3}

    def make_adversarial(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        half = len(images) // 2
        return torch.cat([fgsm(images[:half], labels[:half]), pgd(images[half:], labels[half:])])

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return detector_network().to(device)

    def train(model: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        losses = train_detector(model, bundle.train_loader, make_adversarial, profile.adversarial_epochs,
                                device=device, progress=progress)
        return {"train_loss": losses["loss"], "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    model, record = store.load_or_train(f"detector-{name}", config, build, train)
    return model.to(device), record


def _train_pair(pair: nn.ModuleDict, setup: GANSetup, loader: DataLoader, iterations: int,
                device: torch.device | str, progress: ProgressFile) -> dict[str, object]:
    started = time.perf_counter()
    history = train_gan(setup, endless(loader), iterations, device=device, progress=progress,
                        snapshots=pair["snapshots"])
    return {"history": history, "train_seconds": time.perf_counter() - started}


def dcgan(bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
          store: CheckpointStore | None = None, conditional: bool = False,
          ) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """Chapter 01's DCGAN (or, with ``conditional``, chapter 03's cGAN: the label enters G and D):
    latent 100, non-saturating loss, Adam(2e-4, β=(0.5, 0.999)), the profile's GAN iterations.

    Returns a ModuleDict with ``generator``, ``discriminator`` and ``snapshots`` (samples of a fixed
    noise batch during training; for the cGAN, the batch's labels cycle through the classes); the
    record's metadata holds the training history.
    """
    iterations = profile.gan_iterations
    name = "cgan" if conditional else "dcgan"
    steps = snapshot_steps(iterations, points=9)
    config = {"model": name, **_base_config(bundle, seed), "iterations": iterations,
              "batch_size": profile.batch_size, "latent_dim": 100, "lr": 2e-4, "betas": [0.5, 0.999],
              "loss": "non-saturating", "snapshot_steps": steps}
    shape, classes = bundle.info.image_shape, len(bundle.info.classes) if conditional else 0

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        labels = torch.arange(SNAPSHOT_SAMPLES) % classes if conditional else None
        return nn.ModuleDict({
            "generator": DCGANGenerator(100, shape, num_classes=classes),
            "discriminator": DCGANDiscriminator(shape, num_classes=classes),
            "snapshots": Snapshots(steps, torch.randn(SNAPSHOT_SAMPLES, 100), shape, labels),
        }).to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        G, D = pair["generator"], pair["discriminator"]
        setup = GANSetup(G, D, torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
                         torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)),
                         loss="non-saturating", conditional=conditional)
        return _train_pair(pair, setup, bundle.train_loader, iterations, device, progress)

    store = store or CheckpointStore()
    pair, record = store.load_or_train(name, config, build, train)
    return pair.to(device), record


def wgan_gp(bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
            store: CheckpointStore | None = None) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """Chapter 02's WGAN-GP with the Defense-GAN paper's networks and settings: latent 128, batch 50,
    5 critic steps per generator step, λ = 10, Adam(1e-4, β=(0.5, 0.9)), the profile's critic-GAN
    iterations. Defense-GAN (chapter 09) projects onto this generator."""
    if bundle.info.image_shape != (1, 28, 28):
        raise ValueError(f"the Defense-GAN WGAN-GP is for 28×28 grey images, not {bundle.info.title}")
    iterations = profile.critic_gan_iterations
    steps = snapshot_steps(iterations, points=9)
    config = {"model": "wgan-gp", **_base_config(bundle, seed), "iterations": iterations, "batch_size": 50,
              "latent_dim": 128, "lr": 1e-4, "betas": [0.5, 0.9], "critic_steps": 5, "penalty": 10.0,
              "snapshot_steps": steps}
    loader = DataLoader(bundle.train_loader.dataset, batch_size=50, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        return nn.ModuleDict({
            "generator": WGANGPGenerator(128), "discriminator": WGANGPCritic(),
            "snapshots": Snapshots(steps, torch.randn(SNAPSHOT_SAMPLES, 128), (1, 28, 28)),
        }).to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        G, C = pair["generator"], pair["discriminator"]
        setup = GANSetup(G, C, torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.9)),
                         torch.optim.Adam(C.parameters(), 1e-4, betas=(0.5, 0.9)), loss="wasserstein",
                         d_steps=5, gradient_penalty_weight=10.0)
        return _train_pair(pair, setup, loader, iterations, device, progress)

    store = store or CheckpointStore()
    pair, record = store.load_or_train("wgan-gp", config, build, train)
    return pair.to(device), record


_RECONSTRUCTIONS: dict[tuple[str, int, int, int, str], torch.Tensor] = {}


def _training_reconstructions(generator: nn.Module, generator_file: str, images: torch.Tensor, steps: int, seed: int,
                              device: torch.device | str) -> torch.Tensor:
    """G(z*) of ``images`` (L = ``steps``, one restart, seeded): computed once per process and shared by the
    four Defense-GAN-Rec classifiers, which train on the same reconstructions (projecting is most of their cost)."""
    key = (generator_file, len(images), steps, seed, str(device))
    if key not in _RECONSTRUCTIONS:
        defense = DefenseGAN(generator, 128, steps=steps, restarts=1, seed=seed)
        _RECONSTRUCTIONS[key] = defense(images.to(device)).cpu()
    return _RECONSTRUCTIONS[key]


def reconstruction_trained(name: str, bundle: DataBundle, profile: Profile, seed: int,
                           device: torch.device | str = "cpu", store: CheckpointStore | None = None,
                           ) -> tuple[nn.Module, CheckpointRecord]:
    """Defense-GAN-Rec: classifier ``name`` trained on Defense-GAN reconstructions G(z*) of training images
    instead of the images themselves. To fit the profile's budget it is fine-tuned from :func:`classifier`'s
    weights for the profile's classifier epochs on the reconstructions of the first 6 × ``eval_size``
    training images, each projected onto :func:`wgan_gp`'s generator with the profile's L and one restart."""
    clean, clean_record = classifier(name, bundle, profile, seed, device, store)
    pair, gan_record = wgan_gp(bundle, profile, seed, device, store)
    count = min(len(bundle.train_images), 6 * profile.eval_size)
    config = {"model": f"classifier-{name}-reconstructions", **_base_config(bundle, seed),
              "start": clean_record.path.name, "generator": gan_record.path.name, "images": count,
              "projection_steps": profile.projection_steps, "restarts": 1,
              "epochs": profile.classifier_epochs, "batch_size": profile.batch_size, "lr": 1e-3}

    def build() -> nn.Module:
        return copy.deepcopy(clean).to(device)

    def train(model: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        reconstructions = _training_reconstructions(pair["generator"], gan_record.path.name,
                                                    bundle.train_images[:count], profile.projection_steps, seed,
                                                    device)
        loader = DataLoader(TensorDataset(reconstructions, bundle.train_labels[:count]),
                            batch_size=profile.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        history = train_classifier(model, loader, profile.classifier_epochs, lr=1e-3, device=device,
                                   progress=progress)
        return {"train_loss": history["loss"], "train_seconds": time.perf_counter() - started, "images": count}

    store = store or CheckpointStore()
    model, record = store.load_or_train(f"classifier-{name}-reconstructions", config, build, train)
    return model.to(device), record


def magnet(bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
           store: CheckpointStore | None = None) -> tuple[nn.Module, CheckpointRecord]:
    """MagNet's autoencoder for the dataset, trained with noise 0.1 and Adam(1e-2) for 3 × the profile's
    classifier epochs (it is tiny); wrap it in :class:`gancourse.defenses.magnet.MagNet`."""
    channels = bundle.info.image_shape[0]
    epochs = 3 * profile.classifier_epochs
    config = {"model": "magnet-autoencoder", **_base_config(bundle, seed), "epochs": epochs, "noise": 0.1,
              "batch_size": profile.batch_size, "lr": 1e-2}

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return magnet_autoencoder(channels).to(device)

    def train(model: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        losses = train_autoencoder(model, bundle.train_loader, epochs, lr=1e-2, device=device, progress=progress)
        return {"train_loss": losses["loss"], "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    model, record = store.load_or_train("magnet-autoencoder", config, build, train)
    return model.to(device), record


def defended_classifier(name: str, defense: str, bundle: DataBundle, profile: Profile, seed: int,
                        device: torch.device | str = "cpu", store: CheckpointStore | None = None,
                        ) -> tuple[nn.Module, CheckpointRecord]:
    """Classifier ``name`` undefended (``defense="none"``) or adversarially trained (``fgsm``, ``ensemble``,
    ``pgd``: the lecture's Adv., Ens. and Iter. Adv.) with the dataset's ℓ∞ budget."""
    if defense not in DEFENSES:
        raise ValueError(f"unknown defense {defense!r}; choose one of {', '.join(DEFENSES)}")
    if defense == "none":
        return classifier(name, bundle, profile, seed, device, store)
    return adversarially_trained(name, defense, bundle.info.linf_budget, bundle, profile, seed, device, store)


def _perturbation_pair(bundle: DataBundle, conditional: bool) -> nn.ModuleDict:
    channels, classes = bundle.info.image_shape[0], len(bundle.info.classes) if conditional else 0
    return nn.ModuleDict({
        "generator": PerturbationGenerator(channels, bundle.info.linf_budget, num_classes=classes),
        "discriminator": PerturbationDiscriminator(channels, num_classes=classes,
                                                   image_size=bundle.info.image_shape[1]),
    })


def advgan(name: str, bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
           store: CheckpointStore | None = None, *, target_class: int | None = None, defense: str = "none",
           weights: AdvGANWeights = ADVGAN_WEIGHTS) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """A white-box AdvGAN generator (and its discriminator) trained for the profile's
    ``attack_gan_iterations`` against :func:`defended_classifier` ``(name, defense)``: towards
    ``target_class``, or untargeted when it is None. Budget: the dataset's ℓ∞ budget."""
    classes = len(bundle.info.classes)
    if target_class is not None and not (isinstance(target_class, int) and 0 <= target_class < classes):
        raise ValueError(f"target_class must be a class index 0 … {classes - 1} (or None: untargeted), got {target_class!r}")
    target_model, target_record = defended_classifier(name, defense, bundle, profile, seed, device, store)
    goal = "untargeted" if target_class is None else f"to-{target_class}"
    config = {"model": f"advgan-{name}-{defense}-{goal}", **_base_config(bundle, seed),
              "target_model": target_record.path.name, "target_class": target_class,
              "eps": bundle.info.linf_budget, "iterations": profile.attack_gan_iterations,
              "batch_size": profile.batch_size, "lr": 1e-3, "weights": dataclasses.asdict(weights)}

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        return _perturbation_pair(bundle, conditional=False).to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_advgan(pair["generator"], pair["discriminator"], target_model, bundle.train_loader,
                               profile.attack_gan_iterations, target=target_class, weights=weights,
                               device=device, progress=progress)
        return {"history": history, "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    pair, record = store.load_or_train(f"advgan-{name}-{defense}-{goal}", config, build, train)
    return pair.to(device), record


def distilled_student(name: str, bundle: DataBundle, profile: Profile, seed: int,
                      device: torch.device | str = "cpu", store: CheckpointStore | None = None,
                      ) -> tuple[nn.Module, CheckpointRecord]:
    """Static distillation of black box ``name`` into a fresh model E: the student is fitted to the black
    box's output probabilities on the training images for the profile's classifier epochs."""
    black_box, black_box_record = classifier(name, bundle, profile, seed, device, store)
    config = {"model": f"student-of-{name}", **_base_config(bundle, seed), "black_box": black_box_record.path.name,
              "architecture": "E", "epochs": profile.classifier_epochs, "batch_size": profile.batch_size, "lr": 1e-3}

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return build_classifier("E").to(device)

    def train(student: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        losses = distill(student, lambda images: torch.softmax(black_box(images.to(device)), dim=1),
                         bundle.train_images, epochs=profile.classifier_epochs, batch_size=profile.batch_size,
                         generator=torch.Generator().manual_seed(seed))
        return {"train_loss": losses["loss"], "train_seconds": time.perf_counter() - started,
                "queries": len(bundle.train_images)}

    store = store or CheckpointStore()
    student, record = store.load_or_train(f"student-of-{name}", config, build, train)
    return student.to(device), record


def advgan_black_box(name: str, distillation: str, bundle: DataBundle, profile: Profile, seed: int,
                     device: torch.device | str = "cpu", store: CheckpointStore | None = None, *,
                     target_class: int | None = None, weights: AdvGANWeights = ADVGAN_WEIGHTS,
                     ) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """Black-box AdvGAN against classifier ``name``, never differentiating through it. ``static``: trained
    against :func:`distilled_student`. ``dynamic``: from the same student, 4 rounds alternating generator
    training (a quarter of ``attack_gan_iterations`` each) with re-distillation on the black box's answers
    for 2,000 training images and their adversarial versions. The returned dict holds the student too."""
    if distillation not in ("static", "dynamic"):
        raise ValueError(f"distillation must be 'static' or 'dynamic', got {distillation!r}")
    black_box, black_box_record = classifier(name, bundle, profile, seed, device, store)
    student, student_record = distilled_student(name, bundle, profile, seed, device, store)
    goal = "untargeted" if target_class is None else f"to-{target_class}"
    rounds = 4
    config = {"model": f"advgan-{name}-black-box-{distillation}-{goal}", **_base_config(bundle, seed),
              "black_box": black_box_record.path.name, "student": student_record.path.name,
              "target_class": target_class, "eps": bundle.info.linf_budget,
              "iterations": profile.attack_gan_iterations, "batch_size": profile.batch_size, "lr": 1e-3,
              "weights": dataclasses.asdict(weights), **({"rounds": rounds} if distillation == "dynamic" else {})}

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        pair = _perturbation_pair(bundle, conditional=False)
        pair["student"] = copy.deepcopy(student)
        return pair.to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        if distillation == "static":
            history = train_advgan(pair["generator"], pair["discriminator"], pair["student"], bundle.train_loader,
                                   profile.attack_gan_iterations, target=target_class, weights=weights,
                                   device=device, progress=progress)
        else:
            queries = bundle.train_images[:2000].to(device)
            history = train_advgan_dynamic(
                pair["generator"], pair["discriminator"], pair["student"],
                lambda images: torch.softmax(black_box(images.to(device)), dim=1), bundle.train_loader, queries,
                rounds, max(1, profile.attack_gan_iterations // rounds), target=target_class, weights=weights,
                device=device)
        return {"history": history, "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    pair, record = store.load_or_train(f"advgan-{name}-black-box-{distillation}-{goal}", config, build, train)
    return pair.to(device), record


def aigan(name: str, bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
          store: CheckpointStore | None = None, *, defense: str = "none", weights: AdvGANWeights = ADVGAN_WEIGHTS,
          gamma: float = 1.0) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """AI-GAN's class-conditioned generator and two-branch discriminator, trained for twice the profile's
    ``attack_gan_iterations`` against :func:`defended_classifier` ``(name, defense)``; the attacker is PGD on
    the discriminator's class branch with the dataset's budget and the profile's adversarial-training steps."""
    target_model, target_record = defended_classifier(name, defense, bundle, profile, seed, device, store)
    iterations = 2 * profile.attack_gan_iterations
    steps = profile.adversarial_training_steps
    config = {"model": f"aigan-{name}-{defense}", **_base_config(bundle, seed),
              "target_model": target_record.path.name, "eps": bundle.info.linf_budget, "iterations": iterations,
              "batch_size": profile.batch_size, "lr": 1e-3, "weights": dataclasses.asdict(weights),
              "gamma": gamma, "attacker_steps": steps}

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        return _perturbation_pair(bundle, conditional=True).to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_aigan(pair["generator"], pair["discriminator"], target_model, bundle.train_loader,
                              iterations, weights=weights, gamma=gamma, attacker_eps=bundle.info.linf_budget,
                              attacker_steps=steps, device=device, progress=progress, seed=seed)
        return {"history": history, "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    pair, record = store.load_or_train(f"aigan-{name}-{defense}", config, build, train)
    return pair.to(device), record


def ape_gan(name: str, bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
            store: CheckpointStore | None = None, *, weighting: str = "lecture",
            ) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """APE-GAN's generator and discriminator trained for the profile's ``ape_gan_iterations`` on FGSM examples
    of classifier ``name`` at the dataset's ℓ∞ budget (the paper trains on FGSM; its author used ε = 0.3 on
    MNIST), with the loss weights of :data:`gancourse.defenses.ape_gan.WEIGHTINGS` ``[weighting]``."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown APE-GAN weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
    weights = WEIGHTINGS[weighting]
    attacked, attacked_record = classifier(name, bundle, profile, seed, device, store)
    fgsm = FGSM(attacked, bundle.info.linf_budget)
    config = {"model": f"ape-gan-{name}-{weighting}", **_base_config(bundle, seed),
              "attacked_model": attacked_record.path.name, "attack": "fgsm", "eps": bundle.info.linf_budget,
              "iterations": profile.ape_gan_iterations, "batch_size": profile.batch_size, "lr": 2e-4,
              "weights": dataclasses.asdict(weights)}

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        channels = bundle.info.image_shape[0]
        return nn.ModuleDict({"generator": APEGenerator(channels),
                              "discriminator": APEDiscriminator(channels, bundle.info.image_shape[1])}).to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_ape_gan(pair["generator"], pair["discriminator"], fgsm, bundle.train_loader,
                                profile.ape_gan_iterations, weights=weights, lr=2e-4, device=device,
                                progress=progress)
        return {"history": history, "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    pair, record = store.load_or_train(f"ape-gan-{name}-{weighting}", config, build, train)
    return pair.to(device), record


SUBSTITUTE_SEEDS = 150  # Papernot et al.: the attacker owns 150 images, held out from the test set's end


def substitute(name: str, bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
               store: CheckpointStore | None = None) -> tuple[nn.Module, CheckpointRecord]:
    """The black-box attacker's substitute (architecture E) of classifier ``name``, trained only on its
    labels: the last 150 test images as seeds, 6 rounds of Jacobian augmentation (λ = 0.1), 2 × the
    profile's classifier epochs per round (the paper's 10 in the cpu profile)."""
    oracle, oracle_record = classifier(name, bundle, profile, seed, device, store)
    rounds, epochs = 6, 2 * profile.classifier_epochs
    config = {"model": f"substitute-of-{name}", **_base_config(bundle, seed), "oracle": oracle_record.path.name,
              "architecture": "E", "seeds": SUBSTITUTE_SEEDS, "rounds": rounds, "epochs": epochs, "lam": 0.1}

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return build_classifier("E").to(device)

    def train(model: nn.Module, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_substitute(lambda images: predict(oracle, images), model,
                                   bundle.test_images[-SUBSTITUTE_SEEDS:].to(device), rounds=rounds, epochs=epochs,
                                   lam=0.1, device=device, generator=torch.Generator().manual_seed(seed))
        return {"queries": int(sum(history["queries"])), "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    model, record = store.load_or_train(f"substitute-of-{name}", config, build, train)
    return model.to(device), record


CYCLEGAN_BATCH = 16  # the paper trains with batch 1; 16 keeps a CPU step short and instance norm is per image


def cyclegan(domain_a: int, domain_b: int, bundle: DataBundle, profile: Profile, seed: int,
             device: torch.device | str = "cpu", store: CheckpointStore | None = None, *,
             cycle_weight: float = CYCLE_WEIGHT) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """CycleGAN between two classes of the dataset (object transfiguration, like the paper's horse ↔ zebra):
    ``G_ab``, ``G_ba``, ``D_a``, ``D_b`` trained for the profile's ``cyclegan_iterations`` with batch
    :data:`CYCLEGAN_BATCH` and the paper's weights; ``cycle_weight = 0`` is the ablation without cycle
    consistency (and identity)."""
    if domain_a == domain_b:
        raise ValueError(f"the two domains must be different classes, got {domain_a} twice")
    loader_a = class_loader(bundle, domain_a, CYCLEGAN_BATCH, seed)
    loader_b = class_loader(bundle, domain_b, CYCLEGAN_BATCH, seed + 1)
    name = f"cyclegan-{domain_a}-{domain_b}" + ("" if cycle_weight == CYCLE_WEIGHT else f"-cycle-{cycle_weight:g}")
    config = {"model": name, **_base_config(bundle, seed), "domains": [domain_a, domain_b],
              "iterations": profile.cyclegan_iterations, "batch_size": CYCLEGAN_BATCH, "lr": 2e-4,
              "cycle_weight": cycle_weight, "identity_weight": 0.5, "width": 16, "blocks": 3}

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        channels = bundle.info.image_shape[0]
        return nn.ModuleDict({"G_ab": CycleGenerator(channels), "G_ba": CycleGenerator(channels),
                              "D_a": PatchDiscriminator(channels), "D_b": PatchDiscriminator(channels)}).to(device)

    def train(networks: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        history = train_cyclegan(networks, loader_a, loader_b, profile.cyclegan_iterations, cycle_weight=cycle_weight,
                                 device=device, progress=progress, seed=seed)
        return {"history": history, "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    networks, record = store.load_or_train(name, config, build, train)
    return networks.to(device), record


STYLEGAN_BATCH = 32  # half the profile's usual batch: a StyleGAN step (with R1's double backward) costs ~4 DCGAN steps


def stylegan(bundle: DataBundle, profile: Profile, seed: int, device: torch.device | str = "cpu",
             store: CheckpointStore | None = None) -> tuple[nn.ModuleDict, CheckpointRecord]:
    """Chapter 05's small StyleGAN (32×32, latent 64, 4 mapping layers, widths 128-128-64-32) and its
    discriminator, trained for the profile's ``stylegan_iterations`` at batch :data:`STYLEGAN_BATCH` with style
    mixing (0.9), R1 (γ = 1) and Adam(1e-3, β = (0, 0.99)); the images are padded from 28×28."""
    if bundle.info.image_shape[0] != 1:
        raise ValueError(f"the small StyleGAN is built for grey images; {bundle.info.name} has "
                         f"{bundle.info.image_shape[0]} channels")
    config = {"model": "stylegan", **_base_config(bundle, seed), "iterations": profile.stylegan_iterations,
              "batch_size": STYLEGAN_BATCH, "lr": 1e-3, "betas": [0.0, 0.99], "mixing": 0.9, "r1_gamma": 1.0,
              "latent_dim": 64, "mapping_layers": 4, "widths": [128, 128, 64, 32]}

    def build() -> nn.ModuleDict:
        torch.manual_seed(seed)
        return nn.ModuleDict({"generator": StyleGenerator(1), "discriminator": StyleDiscriminator(1)}).to(device)

    def train(pair: nn.ModuleDict, progress: ProgressFile) -> dict[str, object]:
        started = time.perf_counter()
        loader = DataLoader(TensorDataset(bundle.train_images, bundle.train_labels), batch_size=STYLEGAN_BATCH,
                            shuffle=True, generator=torch.Generator().manual_seed(seed))
        history = train_stylegan(pair["generator"], pair["discriminator"], loader, profile.stylegan_iterations,
                                 device=device, progress=progress, seed=seed)
        return {"history": history, "train_seconds": time.perf_counter() - started}

    store = store or CheckpointStore()
    pair, record = store.load_or_train("stylegan", config, build, train)
    return pair.to(device), record
