"""Training the small StyleGAN (:mod:`gancourse.models.stylegan`): the non-saturating GAN loss with the R1
penalty on real images, style-mixing regularisation, and the paper's optimiser settings.

    L_D = E softplus(−l(x)) + E softplus(l(G(z))) + (γ/2) E ‖∇_x l(x)‖²       (R1, Mescheder et al. 2018)
    L_G = E softplus(−l(G(z)))

Style mixing: with probability ``mixing_probability`` (the paper: 0.9) a batch is generated from two
latents, w₁ driving the layers before a random crossover layer and w₂ the rest, so that the network cannot
assume adjacent layers share a style. Adam with β = (0, 0.99) and one learning rate for every parameter: the
equalised layers' multipliers make the mapping network learn 100× slower
(:data:`gancourse.models.stylegan.MAPPING_LR_MULTIPLIER`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import ProgressFile
from gancourse.models.stylegan import StyleGenerator
from gancourse.train.loop import History, TrainingRun, endless
from gancourse.validation import check_count, check_positive


def pad_to_32(images: torch.Tensor) -> torch.Tensor:
    """28×28 images → 32×32 with a 2-pixel black border (32×32 images are returned unchanged)."""
    if images.shape[-2:] == (32, 32):
        return images
    if images.shape[-2:] != (28, 28):
        raise ValueError(f"pad_to_32 takes N×C×28×28 or N×C×32×32 images, got a batch of shape {tuple(images.shape)}")
    return F.pad(images, (2, 2, 2, 2))


def mixed_latents(generator: StyleGenerator, count: int, mixing_probability: float,
                  random: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """One w per layer for ``count`` images: with probability ``mixing_probability`` two mapped latents split
    at a crossover layer drawn uniformly in 1 … layers − 1, else one latent for every layer."""
    z = torch.randn(2, count, generator.latent_dim, generator=random).to(device)
    w_first, w_second = generator.map(z[0], track_average=True), generator.map(z[1])
    ws = w_first[:, None].repeat(1, generator.num_layers, 1)
    if torch.rand((), generator=random).item() < mixing_probability:
        crossover = int(torch.randint(1, generator.num_layers, (), generator=random))
        ws[:, crossover:] = w_second[:, None]
    return ws


def r1_penalty(discriminator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """E ‖∇_x l(x)‖² on real images (the graph is kept so that D can minimise it)."""
    real = real.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return gradient.flatten(1).pow(2).sum(1).mean()


def train_stylegan(generator: StyleGenerator, discriminator: nn.Module, loader: DataLoader, iterations: int, *,
                   lr: float = 1e-3, mixing_probability: float = 0.9, r1_gamma: float = 1.0,
                   device: torch.device | str = "cpu", progress: ProgressFile | None = None, save_every: int = 100,
                   seed: int = 0) -> History:
    """Alternate one D and one G step for ``iterations`` steps (module docstring). Images are padded to
    32×32. Resumable through ``progress``. Returns per-step D loss, G loss and R1 penalty."""
    check_count("iterations", iterations)
    check_positive("r1_gamma", r1_gamma, allow_zero=True)
    if not 0 <= mixing_probability <= 1:
        raise ValueError(f"mixing_probability must be in [0, 1], got {mixing_probability}")
    generator.to(device)
    discriminator.to(device)
    optimiser_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.0, 0.99))
    optimiser_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.0, 0.99))
    run = TrainingRun({"generator": generator, "discriminator": discriminator, "optimiser_generator": optimiser_g,
                       "optimiser_discriminator": optimiser_d}, iterations, progress=progress,
                      save_every=save_every, description="StyleGAN")
    random = torch.Generator().manual_seed(seed + run.step)
    batches = endless(loader)
    generator.train()
    discriminator.train()
    for _step in run:
        real = pad_to_32(next(batches)[0].to(device))
        with torch.no_grad():
            fake = generator.synthesise(mixed_latents(generator, len(real), mixing_probability, random, device))
        r1 = r1_penalty(discriminator, real) if r1_gamma > 0 else torch.zeros((), device=real.device)
        d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean() + r1_gamma / 2 * r1
        optimiser_d.zero_grad(set_to_none=True)
        d_loss.backward()
        optimiser_d.step()

        discriminator.requires_grad_(False)
        fake = generator.synthesise(mixed_latents(generator, len(real), mixing_probability, random, device))
        g_loss = F.softplus(-discriminator(fake)).mean()
        optimiser_g.zero_grad(set_to_none=True)
        g_loss.backward()
        optimiser_g.step()
        discriminator.requires_grad_(True)
        run.log(d_loss=d_loss, g_loss=g_loss, r1=r1)
    return run.finish(generator, discriminator)
