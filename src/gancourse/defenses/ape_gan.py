"""APE-GAN (Adversarial Perturbation Elimination GAN; Shen et al. 2017, Jin et al. 2019): a generator trained
to map adversarial images back to their clean originals, used as a preprocessor in front of the classifier.

With x clean, x_ε its adversarial version (FGSM, as in the paper), x̂_ε = G(x_ε) and D's logit l(·), the
generator minimises the lecture's three-term loss

    l_APE = ξ1 · l_mse + ξ2 · l_adv + ξ3 · l_sc,          (lecture: ξ1 = 0.1, ξ2 = 0.45, ξ3 = 0.45)
    l_mse = E ‖x̂_ε − x‖₂² / d                           (the official code takes the root: RMSE)
    l_adv = −E log D(x̂_ε)                               (non-saturating GAN loss)
    l_sc  = E [ mean |x̂_ε(i+1, j) − x̂_ε(i, j)| + mean |x̂_ε(i, j+1) − x̂_ε(i, j)| ]   (spatial coherence)

and D minimises −E log D(x) − E log(1 − D(x̂_ε)) (clean images real, reconstructions fake). The official
code weights 0.9·RMSE + 0.02·adversarial, no coherence term, and steps G twice per D step
(:data:`OFFICIAL_WEIGHTS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import ProgressFile
from gancourse.defenses.base import Preprocessor, input_channels
from gancourse.losses import d_loss_minimax, g_loss_non_saturating
from gancourse.train.loop import History, TrainingRun, adam_parts, endless
from gancourse.validation import check_count, check_images, check_positive


@dataclass(frozen=True)
class APEGANWeights:
    """ξ1 (reconstruction), ξ2 (adversarial), ξ3 (spatial coherence) of l_APE; ``root_mse`` uses RMSE for
    the reconstruction term; ``generator_steps`` G updates per D update."""

    mse: float
    adversarial: float
    coherence: float
    root_mse: bool = False
    generator_steps: int = 1

    def __post_init__(self) -> None:
        for name in ("mse", "adversarial", "coherence"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_count("generator_steps", self.generator_steps)


LECTURE_WEIGHTS = APEGANWeights(mse=0.1, adversarial=0.45, coherence=0.45)
OFFICIAL_WEIGHTS = APEGANWeights(mse=0.9, adversarial=0.02, coherence=0.0, root_mse=True, generator_steps=2)
WEIGHTINGS = {"lecture": LECTURE_WEIGHTS, "official": OFFICIAL_WEIGHTS}


def spatial_coherence(images: torch.Tensor) -> torch.Tensor:
    """l_sc = E [ mean |x(i+1, j) − x(i, j)| + mean |x(i, j+1) − x(i, j)| ]: the mean absolute difference
    between vertical neighbours plus that between horizontal neighbours (anisotropic total variation per
    pixel). 0 for a constant image, 2 for a 0/1 checkerboard."""
    check_images(images)
    vertical = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    horizontal = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return vertical + horizontal


def generator_loss(reconstructions: torch.Tensor, clean: torch.Tensor, fake_logits: torch.Tensor,
                   weights: APEGANWeights) -> dict[str, torch.Tensor]:
    """The terms of l_APE (module docstring) and their weighted sum under ``"loss"``."""
    if reconstructions.shape != clean.shape:
        raise ValueError(f"reconstructions {tuple(reconstructions.shape)} and clean images {tuple(clean.shape)} "
                         "must have the same shape")
    mse = (reconstructions - clean).pow(2).mean()
    reconstruction = mse.sqrt() if weights.root_mse else mse
    adversarial = g_loss_non_saturating(fake_logits)
    coherence = spatial_coherence(reconstructions)
    loss = weights.mse * reconstruction + weights.adversarial * adversarial + weights.coherence * coherence
    return {"loss": loss, "mse": mse, "adversarial": adversarial, "coherence": coherence}


def train_ape_gan(generator: nn.Module, discriminator: nn.Module,
                  make_adversarial: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], loader: DataLoader,
                  iterations: int, *, weights: APEGANWeights = LECTURE_WEIGHTS, lr: float = 2e-4,
                  device: torch.device | str = "cpu", progress: ProgressFile | None = None,
                  save_every: int = 100) -> History:
    """Train APE-G and APE-D for ``iterations`` D steps (each followed by ``weights.generator_steps`` G steps)
    on ``make_adversarial(images, labels)`` of every batch, Adam(lr, β = (0.5, 0.999)) as in the official
    code. Resumable through ``progress``. Returns per-step D loss and the generator's loss terms."""
    check_count("iterations", iterations)
    parts = adam_parts({"generator": generator, "discriminator": discriminator}, lr, device)
    optimiser_g, optimiser_d = parts["optimiser_generator"], parts["optimiser_discriminator"]
    run = TrainingRun(parts, iterations, progress=progress, save_every=save_every, description="APE-GAN")
    batches = endless(loader)
    for _step in run:
        images, labels = (tensor.to(device) for tensor in next(batches))
        adversarial = make_adversarial(images, labels).detach()
        generator.train()
        discriminator.train()
        d_loss = d_loss_minimax(discriminator(images), discriminator(generator(adversarial).detach()))
        optimiser_d.zero_grad(set_to_none=True)
        d_loss.backward()
        optimiser_d.step()
        for _ in range(weights.generator_steps):
            reconstructions = generator(adversarial)
            terms = generator_loss(reconstructions, images, discriminator(reconstructions), weights)
            optimiser_g.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimiser_g.step()
        run.log(d_loss=d_loss, mse=terms["mse"], adversarial=terms["adversarial"], coherence=terms["coherence"])
    return run.finish(generator, discriminator)


class APEGAN(Preprocessor):
    """The defense as a preprocessor (:class:`gancourse.defenses.base.Preprocessor`): ``forward(x)`` = G(x)
    with G frozen in eval mode, so ``classifier(ape_gan(x))`` is the defended model. It is
    ``differentiable``: an attacker who knows the defense (Carlini's adaptive attack) simply differentiates
    through it.

    Args:
        generator: APE-G (:class:`gancourse.models.ape_gan.APEGenerator`), trained by :func:`train_ape_gan`.
    """

    differentiable = True

    def __init__(self, generator: nn.Module) -> None:
        super().__init__(input_channels(generator))
        self.generator = generator

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        return self.generator(images)
