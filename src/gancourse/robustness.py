"""The book's robustness matrix for one classifier: every attack of chapters 06–10 against every defense,
built from the checkpoint store (:mod:`gancourse.zoo`; whatever is missing is trained first).

ℓ∞ attacks use the dataset's budget ε. Defenses (columns): none; FGSM and PGD adversarial training and
defensive distillation at T = 100 (the model itself is attacked white-box); the safety-net detector, MagNet (detector + reformer), Defense-GAN (with
fresh random restarts on every call, as in the paper) and APE-GAN. The oblivious attacks target the bare
classifier; the adaptive one targets the whole pipeline: through BPDA for Defense-GAN's projection, whose
gradient is useless — in the generator's tangent space (:class:`~gancourse.defenses.defense_gan.TangentBPDA`) —
and through classifier and detector together for the safety net
(:class:`~gancourse.defenses.detector.GuardedClassifier`) and MagNet
(:class:`~gancourse.defenses.magnet.GuardedMagNet`). Attacks (rows): FGSM, RAND+FGSM, PGD, DeepFool, JSMA
(towards the next class, ≤ 10% of the pixels), C&W-L2 — oblivious, the last three not bounded by ε and run on
the profile's ``adaptive_eval_size`` first images (their measure is a mean distance);
substitute black-box (FGSM on the substitute), AdvGAN (untargeted) and AI-GAN (towards the next class), with
generators trained against the bare classifier — fixed; and the adaptive attack
(:class:`~gancourse.attacks.adaptive.AdaptivePGD`): untargeted, margin loss, as many steps as the oblivious
PGD, :data:`ADAPTIVE_RESTARTS` restarts, and against a randomised defense EOT twice: :data:`EOT_SAMPLES`
gradient samples, and :data:`JUDGE_CALLS` calls of the defense that must all be fooled before a point counts as
a success; each image's first success under the defense's own decision kept; and, as an independent reference where it
applies (no detector, no randomness), AutoAttack's APGD-CE + APGD-DLR from torchattacks (:func:`autoattack_pair`).
Every defense ends with the worst case over its ε-bounded rows (:data:`gancourse.matrix.WORST_CASE`). Defense-GAN,
whose every call projects each image L·R times, is scored on the profile's ``defense_eval_size`` first images and
attacked adaptively on its ``adaptive_eval_size`` first ones; the other defenses on all the matrix's images.
:func:`run_book_matrix` runs the whole lineup and writes the result (the ``gancourse matrix`` command).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from gancourse.attacks import FGSM, JSMA, PGD, CarliniWagnerL2, DeepFool, RandFGSM
from gancourse.attacks.adaptive import AdaptivePGD
from gancourse.attacks.advgan import AdvGAN
from gancourse.attacks.aigan import AIGAN
from gancourse.checkpoints import config_hash
from gancourse.data import make_loaders
from gancourse.defenses.ape_gan import APEGAN
from gancourse.defenses.defense_gan import DefenseGAN, TangentBPDA
from gancourse.defenses.detector import GuardedClassifier, SafetyNet
from gancourse.defenses.magnet import GuardedMagNet, MagNet
from gancourse.files import output_folder
from gancourse.matrix import AttackSpec, Cell, Craft, Defense, run_matrix, write_matrix
from gancourse.matrix_cache import CellCache
from gancourse.models.classifiers import CLASSIFIERS
from gancourse.profiles import resolve_profile
from gancourse.runtime import ChapterRun, best_device
from gancourse.zoo import Zoo, model_key

MAGNET_FALSE_POSITIVES = 0.01  # MagNet's threshold: 1% of clean validation images rejected (as in chapter 09)
ADAPTIVE_RESTARTS = 2  # the adaptive attack's random starts (each later one only for the images not yet fooled)
EOT_SAMPLES = 2  # forward passes averaged per gradient against a randomised defense (Defense-GAN's restarts)
JUDGE_CALLS = 3  # calls of a randomised defense that must all be fooled for the attack to stop on an image
AUTOATTACK_STEPS = 100  # iterations of each APGD run of the AutoAttack row (AutoAttack's standard setting; the
# matrix uses min(100, 5 × the profile's attack steps): 100 at the cpu and gpu profiles, fewer for a smoke run)
AUTOATTACK_NAME = "AutoAttack APGD-CE+DLR"
ATTACKS_VERSION = 1  # part of the matrix cache's key (book_matrix_cache): raise it whenever a row's code changes
# in a way the row's own settings (AttackSpec.settings) do not name
ADAPTIVE_VERSION = 2  # the adaptive rows' own setting: 1 = identity BPDA through Defense-GAN, 2 = tangent-space BPDA
MADE_FROM = "model"  # a fixed row's setting: the model its images come from (a generator, a substitute), so that
# a retrained or newly published one recomputes that row's cells only (book_matrix_cache leaves it out of the folder)


def book_defenses(zoo: Zoo, name: str, validation: torch.Tensor) -> list[Defense]:
    """The matrix's columns for classifier ``name``, from ``zoo``'s models; ``validation`` (clean images not
    evaluated) sets MagNet's threshold."""
    bundle, profile = zoo.bundle, zoo.profile
    model = zoo.classifier(name)[0].eval()
    defenses = [Defense.around("none", model)]
    for method, label in (("fgsm", "FGSM adv. training"), ("pgd", "PGD adv. training")):
        trained = zoo.defended_classifier(name, method)[0].eval()
        defenses.append(Defense.around(label, trained))
    defenses.append(Defense.around("distillation", zoo.distilled_classifier(name)[0].eval()))
    detector = SafetyNet(zoo.detector(name, bundle.info.linf_budget)[0].eval())
    defenses.append(Defense.around("detector", model, detector=detector,
                                   adaptive_target=GuardedClassifier(model, detector.network).eval()))
    magnet = MagNet(zoo.magnet()[0])
    magnet.calibrate(validation, MAGNET_FALSE_POSITIVES)
    defenses.append(Defense.around("MagNet", model, preprocessor=magnet, detector=magnet,
                                   adaptive_target=GuardedMagNet(model, magnet).eval()))
    generator = zoo.wgan_gp()[0]["generator"].eval()
    defense_gan = DefenseGAN(generator, 128, steps=profile.projection_steps, restarts=profile.projection_restarts,
                             seed=None)
    defenses.append(Defense.around("Defense-GAN", model, preprocessor=defense_gan, sample=profile.defense_eval_size,
                                   adaptive_sample=profile.adaptive_eval_size,
                                   adaptive_target=nn.Sequential(TangentBPDA(defense_gan), model).eval()))
    ape = APEGAN(zoo.ape_gan(name)[0]["generator"])
    defenses.append(Defense.around("APE-GAN", model, preprocessor=ape))
    return defenses


def book_attacks(zoo: Zoo, name: str) -> list[AttackSpec]:
    """The matrix's rows for classifier ``name``, from ``zoo``'s models (see the module docstring)."""
    bundle, profile = zoo.bundle, zoo.profile
    eps, classes, steps = bundle.info.linf_budget, len(bundle.info.classes), profile.attack_steps
    unbounded = profile.adaptive_eval_size   # minimum-norm attacks: a mean distance needs fewer images than a rate
    cw_steps = min(100, 5 * steps)   # 100 at the cpu and gpu profiles, fewer only for a smoke run
    model = zoo.classifier(name)[0].eval()
    substitute, substitute_record = zoo.substitute(name)
    advgan_pair, advgan_record = zoo.advgan(name)
    aigan_pair, aigan_record = zoo.aigan(name)
    substitute = substitute.eval()
    advgan = AdvGAN(model, {"untargeted": advgan_pair["generator"]})
    aigan = AIGAN(model, aigan_pair["generator"])

    def next_class(attack) -> Craft:
        return lambda images, labels: attack(images, target=(labels + 1) % classes)

    def autoattack(defense: Defense) -> Craft | None:
        if defense.detects or defense.randomised:
            return None
        return autoattack_pair(defense.adaptive_target, eps, steps=min(AUTOATTACK_STEPS, 5 * steps))

    return [
        AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, eps)),
        AttackSpec("RAND+FGSM", "oblivious", lambda m: RandFGSM(m, eps, alpha=eps / 2)),
        AttackSpec(f"PGD-{steps}", "oblivious", lambda m: PGD(m, eps, steps=steps)),
        AttackSpec("DeepFool", "oblivious", lambda m: DeepFool(m, steps=steps), bounded=False, sample=unbounded),
        AttackSpec("JSMA", "oblivious", lambda m: next_class(JSMA(m)), bounded=False, sample=unbounded),
        AttackSpec("C&W L2", "oblivious", lambda m: CarliniWagnerL2(m, steps=cw_steps, search_steps=5),
                   bounded=False, sample=unbounded),
        AttackSpec("substitute (black-box)", "fixed", lambda _: FGSM(substitute, eps),
                   settings={MADE_FROM: model_key(substitute_record)}),
        AttackSpec("AdvGAN", "fixed", lambda _: advgan, settings={MADE_FROM: model_key(advgan_record)}),
        AttackSpec("AI-GAN", "fixed", lambda _: next_class(aigan), settings={MADE_FROM: model_key(aigan_record)}),
        adaptive_spec(f"adaptive PGD-{steps}×{ADAPTIVE_RESTARTS}", eps, steps, classes),
        *([AttackSpec(AUTOATTACK_NAME, "adaptive", autoattack)] if autoattack_available() else []),
    ]


def book_matrix_cache(zoo: Zoo, name: str, attacks: Sequence[AttackSpec]) -> CellCache:
    """Where the matrix of classifier ``name`` keeps its finished cells (so an interrupted run resumes):
    a folder of ``zoo``'s checkpoint store named by a hash of the profile, dataset, seed, classifier, the
    checkpoints of every model ``zoo`` has given so far (call it after :func:`book_defenses` and
    :func:`book_attacks`, so that a retrained model starts a fresh folder) and the rows' settings
    (:data:`ATTACKS_VERSION` and the adaptive attack's restarts, EOT samples and AutoAttack's iterations), so that
    a changed attack never reads an old cell. The models a row of ``attacks`` names in its settings
    (:data:`MADE_FROM`: a fixed row's generator or substitute) are left out: they are in that row's cell keys, so a
    retrained or newly published generator recomputes its own row and no other."""
    named = {spec.settings[MADE_FROM] for spec in attacks if MADE_FROM in spec.settings}
    key = {"profile": dataclasses.asdict(zoo.profile), "dataset": zoo.bundle.info.name, "seed": zoo.seed,
           "classifier": name, "models": sorted(zoo.models_given - named),
           "attacks": {"version": ATTACKS_VERSION, "adaptive_restarts": ADAPTIVE_RESTARTS,
                       "eot_samples": EOT_SAMPLES, "judge_calls": JUDGE_CALLS,
                       "autoattack_steps": AUTOATTACK_STEPS}}
    return CellCache(zoo.store.root / "matrix-cells" / config_hash(key))


def adaptive_attack(defense: Defense, eps: float, steps: int, classes: int) -> AdaptivePGD:
    """The matrix's adaptive attack on ``defense``: :class:`~gancourse.attacks.adaptive.AdaptivePGD` on its
    adaptive target with :data:`ADAPTIVE_RESTARTS` restarts, and the defense's own decision to keep each image's
    first success; if it is randomised, :data:`EOT_SAMPLES` gradient samples and :data:`JUDGE_CALLS` calls of
    that decision, all fooled, per success."""
    randomised = defense.randomised
    return AdaptivePGD(defense.adaptive_target, eps, steps=steps, restarts=ADAPTIVE_RESTARTS,
                       eot_samples=EOT_SAMPLES if randomised else 1, classes=classes, fooled=defense.fooled,
                       judge_calls=JUDGE_CALLS if randomised else 1)


def adaptive_spec(name: str, eps: float, steps: int, classes: int) -> AttackSpec:
    """The matrix row of :func:`adaptive_attack` at budget ``eps``, with :data:`ADAPTIVE_VERSION` as its setting
    (so that cells cached by an earlier version of the adaptive attack or its targets are not read)."""
    return AttackSpec(name, "adaptive", lambda defense: adaptive_attack(defense, eps, steps, classes),
                      settings={"version": ADAPTIVE_VERSION})


def autoattack_available() -> bool:
    """Whether torchattacks, which provides the AutoAttack row, is installed (the book's environment has it;
    elsewhere: ``pip install --no-deps torchattacks``)."""
    return importlib.util.find_spec("torchattacks") is not None


def autoattack_pair(model: nn.Module, eps: float, steps: int = AUTOATTACK_STEPS, seed: int = 0) -> Craft:
    """AutoAttack's untargeted pair (Croce & Hein 2020), as torchattacks implements it: APGD on the
    cross-entropy, then APGD on the difference-of-logits ratio

        DLR(x, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)      (π: the logits sorted in decreasing order)

    for the images the first left unsolved; both with ``steps`` iterations and AutoAttack's step-size schedule.
    An independent reference next to the book's adaptive attack, for defenses without randomness and without
    a "rejected" output (torchattacks judges success by the target's own argmax, with no EOT between calls)."""
    import torchattacks

    attack = torchattacks.MultiAttack([
        torchattacks.APGD(model, norm="Linf", eps=eps, steps=steps, loss="ce", seed=seed),
        torchattacks.APGD(model, norm="Linf", eps=eps, steps=steps, loss="dlr", seed=seed),
    ])
    return lambda images, labels: attack(images, labels)


def run_book_matrix(model: str, dataset: str, profile: str, images: int | None, seed: int, output: str | Path,
                    progress: Callable[[str], None] | None = None) -> tuple[list[Cell], list[Path]]:
    """Every attack of :func:`book_attacks` against every defense of :func:`book_defenses` for classifier
    ``model``, on the first ``images`` test images of ``dataset`` (default: the profile's ``eval_size``;
    Defense-GAN: the first ``defense_eval_size`` of them, its adaptive rows ``adaptive_eval_size``); the next
    ones (500 at most) set MagNet's threshold. Runs on
    :func:`gancourse.runtime.best_device`, writes ``matrix.csv``, ``matrix.json`` and ``matrix.png`` into the
    folder ``output`` and returns the cells and the written paths.

    Raises:
        ValueError: an unknown classifier, profile or dataset, the ``gpu`` profile without CUDA, fewer than
            one image or so many that none is left for MagNet, or ``output`` naming a file.
    """
    if model not in CLASSIFIERS:
        raise ValueError(f"--model {model!r} is not one of the book's classifiers {', '.join(CLASSIFIERS)}")
    resolved = resolve_profile(profile)
    count = resolved.eval_size if images is None else images
    if count < 1:
        raise ValueError(f"--images must be at least 1, got {count}")
    folder = output_folder(output)
    device = best_device()
    torch.manual_seed(seed)
    bundle = make_loaders(dataset, resolved, seed)
    zoo = Zoo.for_chapter(ChapterRun(resolved, dataset, seed, device), bundle)
    if count + 1 > len(bundle.test_images):
        raise ValueError(f"--images {count} leaves no clean images to calibrate MagNet: the {resolved.name} "
                         f"profile has {len(bundle.test_images)} test images; ask for fewer")
    evaluated, labels = bundle.test_images[:count].to(device), bundle.test_labels[:count].to(device)
    validation = bundle.test_images[count:count + 500].to(device)
    defenses = book_defenses(zoo, model, validation)
    attacks = book_attacks(zoo, model)
    cells = run_matrix(attacks, defenses, evaluated, labels, progress=progress, cache=book_matrix_cache(zoo, model, attacks))
    metadata = {"dataset": dataset, "profile": resolved.name, "model": model, "images": count,
                "seed": seed, "eps": bundle.info.linf_budget, "device": device.type, "torch": torch.__version__}
    return cells, write_matrix(cells, folder, metadata)
