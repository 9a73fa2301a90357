"""The latent-space attack on Defense-GAN (Athalye, Carlini & Wagner 2018, section 5.3).

Defense-GAN classifies G(z*), the generator's closest image. An input that already lies in the range of G is
(nearly) its own projection, so the attacker looks for a latent z whose image is close to x and
misclassified, and submits x' = G(z):

    min_z  ‖G(z) − x‖₂² / d  +  c · max(Z(G(z))_y − max_{j≠y} Z(G(z))_j, −κ)        (untargeted)
    min_z  ‖G(z) − x‖₂² / d  +  c · max(max_{j≠t} Z(G(z))_j − Z(G(z))_t, −κ)        (towards t)

(Z = the classifier's logits, d = pixels per image), by Adam from the Defense-GAN projection z* of x. For
every image the closest misclassified G(z) met during the search is returned; an image for which the
search never succeeds gets its last G(z). The attack needs no budget: its cost is the distance
‖x' − x‖, which the chapter reports (Athalye et al.: mean squared distance 0.005 on MNIST).
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.attacks.base import Attack
from gancourse.attacks.cw import cw_margin
from gancourse.defenses.defense_gan import DefenseGAN
from gancourse.networks import frozen_eval
from gancourse.validation import check_count, check_positive


class LatentSearch(Attack):
    """Search the generator's latent space for a close, misclassified image (see the module docstring).

    Args:
        model: the classifier behind the defense.
        defense: the Defense-GAN whose generator (and projection, for the starting z*) is attacked.
        steps: Adam steps on z.
        c: weight of the margin term.
        lr: Adam's learning rate.
        kappa: confidence κ of the margin.
    """

    norm = None

    def __init__(self, model: nn.Module, defense: DefenseGAN, steps: int = 200, c: float = 1.0,
                 lr: float = 0.05, kappa: float = 0.0) -> None:
        super().__init__(model)
        if not isinstance(defense, DefenseGAN):
            raise TypeError(f"defense must be a DefenseGAN (its generator is searched), got {type(defense).__name__}")
        check_count("steps", steps)
        check_positive("c", c)
        check_positive("lr", lr)
        check_positive("kappa", kappa, allow_zero=True)
        self.defense, self.steps, self.c, self.lr, self.kappa = defense, steps, c, lr, kappa

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        generator = self.defense.generator
        z = self.defense.project(x).latents.detach().clone().requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=self.lr)
        best = torch.full((len(x),), float("inf"), device=x.device)
        result = torch.empty_like(x)
        with frozen_eval(generator), torch.enable_grad():
            for step in range(self.steps + 1):      # steps + 1 evaluations, the last one after the last step
                image = generator(z)
                distance = (image - x).flatten(1).pow(2).mean(1)
                logits = self.model(image)
                with torch.no_grad():
                    predicted = logits.argmax(1)
                    success = predicted == labels if targeted else predicted != labels
                    improved = success & (distance < best)
                    best = torch.where(improved, distance, best)
                    result[improved] = image[improved]
                    never = torch.isinf(best)
                    result[never] = image[never]
                if step == self.steps:
                    break
                loss = distance + self.c * cw_margin(logits, labels, targeted, self.kappa)
                optimiser.zero_grad()
                loss.sum().backward()
                optimiser.step()
        return result.detach()
