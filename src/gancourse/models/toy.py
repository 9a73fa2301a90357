"""Small fully connected generators and discriminators for 1-D and 2-D toy distributions."""

from __future__ import annotations

import torch
from torch import nn

from gancourse.validation import check_count, check_dtype, check_latents


def _mlp(sizes: list[int], activation: type[nn.Module]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(sizes) - 2:
            layers.append(activation())
    return layers


class MLPGenerator(nn.Module):
    """G: z ∈ R^latent_dim → x ∈ R^data_dim through ``layers`` hidden layers of ``hidden`` ReLU units."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("data_dim", data_dim), ("hidden", hidden), ("layers", layers)):
            check_count(name, value)
        self.latent_dim = latent_dim
        self.net = nn.Sequential(*_mlp([latent_dim, *[hidden] * layers, data_dim], nn.ReLU))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim, "z")
        check_dtype(z, self, "z")
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D: x ∈ R^data_dim → one logit (or critic score) through LeakyReLU(0.2) hidden layers."""

    def __init__(self, data_dim: int, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        for name, value in (("data_dim", data_dim), ("hidden", hidden), ("layers", layers)):
            check_count(name, value)
        self.data_dim = data_dim
        self.net = nn.Sequential(*_mlp([data_dim, *[hidden] * layers, 1], lambda: nn.LeakyReLU(0.2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_latents(x, self.data_dim, "samples")
        check_dtype(x, self, "samples")
        return self.net(x).squeeze(1)
