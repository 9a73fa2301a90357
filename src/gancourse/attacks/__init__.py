"""Adversarial attacks with one calling convention: ``attack = PGD(model, eps=0.1); x_adv = attack(x, y)``
(untargeted) or ``attack(x, target=t)`` (targeted). See :mod:`gancourse.attacks.base` for the contract."""

from gancourse.attacks.adaptive import AdaptivePGD
from gancourse.attacks.base import Attack, perturbation_norms
from gancourse.attacks.cw import CarliniWagnerL2
from gancourse.attacks.deepfool import DeepFool
from gancourse.attacks.fgsm import FGSM, RandFGSM
from gancourse.attacks.jsma import JSMA
from gancourse.attacks.lbfgs import LBFGSAttack
from gancourse.attacks.pgd import IFGSM, PGD

__all__ = ["AdaptivePGD", "Attack", "CarliniWagnerL2", "DeepFool", "FGSM", "IFGSM", "JSMA", "LBFGSAttack", "PGD", "RandFGSM",
           "perturbation_norms"]
