"""CycleGAN training (Zhu et al. 2017): unpaired translation between domains A and B.

Two generators G: A → B and F: B → A, two discriminators D_B (real b vs G(a)) and D_A (real a vs F(b)),
least-squares adversarial losses, and the generators' objective

    L = λ_GAN · (L_GAN(G, D_B) + L_GAN(F, D_A)) + λ_cyc · L_cyc + λ_id · λ_cyc · L_id
    L_GAN(G, D_B) = E (D_B(G(a)) − 1)²                                    (least squares, averaged over patches)
    L_cyc = E ‖F(G(a)) − a‖₁ + E ‖G(F(b)) − b‖₁                           (cycle consistency, λ_cyc = 10)
    L_id  = E ‖G(b) − b‖₁ + E ‖F(a) − a‖₁                                 (identity, λ_id = 0.5)

with the paper's weights and, like the paper and its code, no ½ on the generators' adversarial terms. Each
discriminator minimises ½ E (D(real) − 1)² + ½ E D(fake)² (the code's halving, which slows D relative to G),
the fakes drawn from a pool of the last 50 generated images (half the time) to damp oscillation, as in the
paper.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import ProgressFile
from gancourse.losses import d_loss_least_squares
from gancourse.train.loop import History, TrainingRun, endless
from gancourse.validation import check_count, check_positive

CYCLE_WEIGHT = 10.0    # λ_cyc of the paper
IDENTITY_WEIGHT = 0.5  # λ_id, relative to λ_cyc (the paper's 0.5 · λ_cyc)
GAN_WEIGHT = 1.0       # λ_GAN on the generators' adversarial terms: the paper's 1 (no ½)


def cycle_loss(original: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """E ‖F(G(a)) − a‖₁ for one direction: the mean absolute difference per pixel."""
    if original.shape != reconstructed.shape:
        raise ValueError(f"the reconstruction {tuple(reconstructed.shape)} must have the original's shape "
                         f"{tuple(original.shape)}")
    return (reconstructed - original).abs().mean()


def adversarial_term(scores: torch.Tensor) -> torch.Tensor:
    """A generator's adversarial term L_GAN = E (D(G(a)) − 1)², averaged over the patches' scores."""
    return (scores - 1).pow(2).mean()


def _cycle_networks(networks: nn.ModuleDict) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """G, F, D_A, D_B: ``networks``' ``G_ab``, ``G_ba``, ``D_a``, ``D_b``, or a ValueError naming the missing."""
    missing = {"G_ab", "G_ba", "D_a", "D_b"} - set(networks)
    if missing:
        raise ValueError(f"networks needs G_ab, G_ba, D_a and D_b; missing {sorted(missing)}")
    return networks["G_ab"], networks["G_ba"], networks["D_a"], networks["D_b"]


def generator_loss(networks: nn.ModuleDict, real_a: torch.Tensor, real_b: torch.Tensor, *,
                   cycle_weight: float = CYCLE_WEIGHT, identity_weight: float = IDENTITY_WEIGHT,
                   gan_weight: float = GAN_WEIGHT) -> dict[str, torch.Tensor]:
    """The generators' objective (module docstring) on one pair of batches, with G = ``networks["G_ab"]``,
    F = ``networks["G_ba"]``, D_A = ``networks["D_a"]`` and D_B = ``networks["D_b"]``:

        L = λ_GAN · (L_GAN(G, D_B) + L_GAN(F, D_A)) + λ_cyc · L_cyc + λ_id · λ_cyc · L_id

    Returns the terms under ``"gan_loss"`` (both directions), ``"cycle_loss"`` and ``"identity_loss"`` (zero,
    and not computed, when λ_id · λ_cyc = 0), their weighted sum under ``"loss"``, and the translations
    G(a), F(b) under ``"fake_b"``, ``"fake_a"`` (what the discriminators see next)."""
    g_ab, g_ba, d_a, d_b = _cycle_networks(networks)
    fake_b, fake_a = g_ab(real_a), g_ba(real_b)
    gan = adversarial_term(d_b(fake_b)) + adversarial_term(d_a(fake_a))
    cycle = cycle_loss(real_a, g_ba(fake_b)) + cycle_loss(real_b, g_ab(fake_a))
    identity = (cycle_loss(real_b, g_ab(real_b)) + cycle_loss(real_a, g_ba(real_a))
                if cycle_weight * identity_weight > 0 else torch.zeros((), device=real_a.device))
    loss = gan_weight * gan + cycle_weight * cycle + cycle_weight * identity_weight * identity
    return {"loss": loss, "gan_loss": gan, "cycle_loss": cycle, "identity_loss": identity,
            "fake_a": fake_a, "fake_b": fake_b}


class ImagePool:
    """The history of generated images the discriminator sees (Shrivastava et al. 2017, used by CycleGAN):
    until ``size`` images are stored, return the new ones and keep them; afterwards each new image is, with
    probability ½, swapped with a random stored one (the stored one is returned) or returned as it is."""

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        check_count("size", size, minimum=0)
        self.size, self.images = size, []
        self.random = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        returned = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                returned.append(image)
            elif self.random.random() < 0.5:
                index = self.random.randrange(self.size)
                returned.append(self.images[index])
                self.images[index] = image
            else:
                returned.append(image)
        return torch.stack(returned)


def domain_batches(loader: DataLoader) -> Iterator[torch.Tensor]:
    """Endless batches of images (labels dropped) from a loader of one domain."""
    for images, _labels in endless(loader):
        yield images


def train_cyclegan(networks: nn.ModuleDict, loader_a: DataLoader, loader_b: DataLoader, iterations: int, *,
                   cycle_weight: float = CYCLE_WEIGHT, identity_weight: float = IDENTITY_WEIGHT,
                   gan_weight: float = GAN_WEIGHT, lr: float = 2e-4, device: torch.device | str = "cpu", progress: ProgressFile | None = None,
                   save_every: int = 100, seed: int = 0) -> History:
    """Train ``networks`` (``G_ab``, ``G_ba``, ``D_a``, ``D_b``) for ``iterations`` steps of the module
    docstring's objective, Adam(lr, β = (0.5, 0.999)) as in the paper. ``cycle_weight = 0`` drops the cycle
    (and identity) terms: the ablation that shows why they are needed. Resumable through ``progress`` (the
    image pools start empty again after a resume; they refill in 50 images)."""
    check_count("iterations", iterations)
    check_positive("cycle_weight", cycle_weight, allow_zero=True)
    check_positive("identity_weight", identity_weight, allow_zero=True)
    check_positive("gan_weight", gan_weight)
    g_ab, g_ba, d_a, d_b = _cycle_networks(networks)
    networks.to(device)
    optimiser_g = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], lr=lr, betas=(0.5, 0.999))
    optimiser_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], lr=lr, betas=(0.5, 0.999))
    run = TrainingRun({"networks": networks, "optimiser_generators": optimiser_g,
                       "optimiser_discriminators": optimiser_d}, iterations, progress=progress,
                      save_every=save_every, description="CycleGAN")
    pool_a, pool_b = ImagePool(seed=seed), ImagePool(seed=seed + 1)
    batches_a, batches_b = domain_batches(loader_a), domain_batches(loader_b)
    networks.train()
    for _step in run:
        real_a, real_b = next(batches_a).to(device), next(batches_b).to(device)
        count = min(len(real_a), len(real_b))
        real_a, real_b = real_a[:count], real_b[:count]

        for discriminator in (d_a, d_b):
            discriminator.requires_grad_(False)
        terms = generator_loss(networks, real_a, real_b, cycle_weight=cycle_weight, identity_weight=identity_weight,
                               gan_weight=gan_weight)
        optimiser_g.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimiser_g.step()
        for discriminator in (d_a, d_b):
            discriminator.requires_grad_(True)

        d_loss = (d_loss_least_squares(d_b(real_b), d_b(pool_b.query(terms["fake_b"])))
                  + d_loss_least_squares(d_a(real_a), d_a(pool_a.query(terms["fake_a"]))))
        optimiser_d.zero_grad(set_to_none=True)
        d_loss.backward()
        optimiser_d.step()
        run.log(gan_loss=terms["gan_loss"], cycle_loss=terms["cycle_loss"], identity_loss=terms["identity_loss"],
                d_loss=d_loss)
    return run.finish(networks)
