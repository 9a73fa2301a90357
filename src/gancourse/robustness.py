"""The book's robustness matrix for one classifier: every attack of chapters 06–10 against every defense,
built from the checkpoint store (:mod:`gancourse.zoo`; whatever is missing is trained first).

ℓ∞ attacks use the dataset's budget ε. Defenses (columns): none; FGSM and PGD adversarial training (the
model itself is attacked white-box); the safety-net detector, MagNet (detector + reformer), Defense-GAN and
APE-GAN (the oblivious attacks target the bare classifier; the adaptive one targets the whole pipeline,
through BPDA for Defense-GAN's projection, whose gradient is useless). Attacks (rows): FGSM, RAND+FGSM,
PGD, DeepFool, JSMA (towards the next class, ≤ 10% of the pixels), C&W-L2 — oblivious, the last three not
bounded by ε; substitute black-box (FGSM on the
substitute), AdvGAN (untargeted) and AI-GAN (towards the next class), with generators trained against
the bare classifier — fixed; and adaptive PGD (half the oblivious PGD's steps, since each step through
Defense-GAN projects every image), towards the class the attacked network ranks second.
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse import zoo
from gancourse.attacks import FGSM, JSMA, PGD, CarliniWagnerL2, DeepFool, RandFGSM
from gancourse.attacks.advgan import AdvGAN
from gancourse.attacks.aigan import AIGAN
from gancourse.data import DataBundle
from gancourse.defenses.ape_gan import APEGAN
from gancourse.defenses.defense_gan import DefenseGAN
from gancourse.defenses.detector import GuardedClassifier, SafetyNet
from gancourse.defenses.magnet import MagNet
from gancourse.matrix import AttackSpec, Craft, Defense
from gancourse.profiles import Profile

MAGNET_FALSE_POSITIVES = 0.01  # MagNet's threshold: 1% of clean validation images rejected (as in chapter 09)


def book_defenses(name: str, bundle: DataBundle, profile: Profile, seed: int, validation: torch.Tensor,
                  device: torch.device | str = "cpu") -> list[Defense]:
    """The matrix's columns for classifier ``name``; ``validation`` (clean images not evaluated) sets
    MagNet's threshold."""
    model = zoo.classifier(name, bundle, profile, seed, device)[0].eval()
    defenses = [Defense.around("none", model)]
    for method, label in (("fgsm", "FGSM adv. training"), ("pgd", "PGD adv. training")):
        trained = zoo.defended_classifier(name, method, bundle, profile, seed, device)[0].eval()
        defenses.append(Defense.around(label, trained))
    detector = SafetyNet(zoo.detector(name, bundle.info.linf_budget, bundle, profile, seed, device)[0].eval())
    defenses.append(Defense.around("detector", model, detector=detector,
                                   adaptive_target=GuardedClassifier(model, detector.network).eval()))
    magnet = MagNet(zoo.magnet(bundle, profile, seed, device)[0])
    magnet.calibrate(validation, MAGNET_FALSE_POSITIVES)
    defenses.append(Defense.around("MagNet", model, preprocessor=magnet, detector=magnet))
    generator = zoo.wgan_gp(bundle, profile, seed, device)[0]["generator"].eval()
    defense_gan = DefenseGAN(generator, 128, steps=profile.projection_steps, restarts=profile.projection_restarts,
                             seed=seed)
    defenses.append(Defense.around("Defense-GAN", model, preprocessor=defense_gan))
    ape = APEGAN(zoo.ape_gan(name, bundle, profile, seed, device)[0]["generator"])
    defenses.append(Defense.around("APE-GAN", model, preprocessor=ape))
    return defenses


def _second_best(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """The class other than the label that the network ranks highest (its first ``classes`` logits)."""
    with torch.no_grad():
        logits = model(images)[:, :classes].clone()
    logits[torch.arange(len(labels)), labels] = -float("inf")
    return logits.argmax(1)


def book_attacks(name: str, bundle: DataBundle, profile: Profile, seed: int,
                 device: torch.device | str = "cpu") -> list[AttackSpec]:
    """The matrix's rows for classifier ``name`` (see the module docstring)."""
    eps, classes, steps = bundle.info.linf_budget, len(bundle.info.classes), profile.attack_steps
    adaptive_steps = max(1, steps // 2)  # each step through Defense-GAN projects every image (L·R passes)
    model = zoo.classifier(name, bundle, profile, seed, device)[0].eval()
    substitute = zoo.substitute(name, bundle, profile, seed, device)[0].eval()
    advgan = AdvGAN(model, {"untargeted": zoo.advgan(name, bundle, profile, seed, device)[0]["generator"]})
    aigan = AIGAN(model, zoo.aigan(name, bundle, profile, seed, device)[0]["generator"])

    def next_class(attack) -> Craft:
        return lambda images, labels: attack(images, target=(labels + 1) % classes)

    def adaptive(target: nn.Module) -> Craft:
        attack = PGD(target, eps, steps=adaptive_steps)
        return lambda images, labels: attack(images, target=_second_best(target, images, labels, classes))

    return [
        AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, eps)),
        AttackSpec("RAND+FGSM", "oblivious", lambda m: RandFGSM(m, eps, alpha=eps / 2)),
        AttackSpec(f"PGD-{steps}", "oblivious", lambda m: PGD(m, eps, steps=steps)),
        AttackSpec("DeepFool", "oblivious", lambda m: DeepFool(m, steps=steps), bounded=False),
        AttackSpec("JSMA", "oblivious", lambda m: next_class(JSMA(m)), bounded=False),
        AttackSpec("C&W L2", "oblivious", lambda m: CarliniWagnerL2(m, steps=100, search_steps=5), bounded=False),
        AttackSpec("substitute (black-box)", "fixed", lambda _: FGSM(substitute, eps)),
        AttackSpec("AdvGAN", "fixed", lambda _: advgan),
        AttackSpec("AI-GAN", "fixed", lambda _: next_class(aigan)),
        AttackSpec(f"adaptive PGD-{adaptive_steps}", "adaptive", adaptive),
    ]
