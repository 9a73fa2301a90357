"""Small fully connected generators and discriminators for 1-D and 2-D toy distributions."""

from __future__ import annotations

import copy

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


class SeedStack(nn.Module):
    """S copies of one toy MLP (:class:`MLPGenerator` or :class:`MLPDiscriminator`, one per seed) trained as
    one network, so that S seeds cost the launches of one run.

    A batch of S·N rows is S blocks of N: block s goes through copy s, y = [f_0(x_0); …; f_{S−1}(x_{S−1})],
    every linear layer one batched product y_s = x_s W_sᵀ + b_s. A GAN's losses are batch means, so copy s's
    part of ∇(mean over S·N) is (1/S)·∇(its own mean over its N rows); a gradient hook multiplies it by S, and
    each copy gets exactly the gradient it would get alone. Adam, RMSprop and weight clipping act element by
    element, so their steps are the copies' own too: only the random stream (latents, data) is shared.
    """

    def __init__(self, copies: list[MLPGenerator] | list[MLPDiscriminator]) -> None:
        super().__init__()
        if not copies:
            raise ValueError("a SeedStack needs at least one copy (one model per seed)")
        kind = type(copies[0])
        if kind not in (MLPGenerator, MLPDiscriminator) or any(type(c) is not kind for c in copies):
            raise TypeError("a SeedStack stacks copies of one toy model class (all MLPGenerator or all "
                            f"MLPDiscriminator), got {sorted({type(c).__name__ for c in copies})}")
        shapes = {tuple(p.shape for p in c.parameters()) for c in copies}
        if len(shapes) != 1:
            raise ValueError("the copies differ in their layer sizes; stack models built with the same arguments")
        self.copies = len(copies)
        self.is_discriminator = kind is MLPDiscriminator
        self.input_dim = copies[0].data_dim if self.is_discriminator else copies[0].latent_dim
        if self.is_discriminator:
            self.data_dim = self.input_dim
        else:
            self.latent_dim = self.input_dim
        object.__setattr__(self, "_template", copy.deepcopy(copies[0]))   # not a submodule: no parameters
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        self._activations: list[nn.Module | None] = []      # None: the next linear layer
        for index, layer in enumerate(copies[0].net):
            if isinstance(layer, nn.Linear):
                weight = torch.stack([c.net[index].weight.detach() for c in copies]).transpose(1, 2)  # S×in×out
                bias = torch.stack([c.net[index].bias.detach() for c in copies]).unsqueeze(1)            # S×1×out
                self.weights.append(nn.Parameter(weight.clone()))
                self.biases.append(nn.Parameter(bias.clone()))
                self._activations.append(None)
            else:
                self._activations.append(layer)
        for parameter in self.parameters():
            parameter.register_hook(lambda gradient: gradient * self.copies)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_latents(x, self.input_dim, "samples" if self.is_discriminator else "z")
        check_dtype(x, self, "samples" if self.is_discriminator else "z")
        if len(x) % self.copies:
            raise ValueError(f"a batch for {self.copies} stacked copies needs a multiple of {self.copies} rows "
                             f"(one block of N per copy), got {len(x)}")
        h = x.reshape(self.copies, len(x) // self.copies, self.input_dim)
        linear = iter(zip(self.weights, self.biases, strict=True))
        for activation in self._activations:
            if activation is None:
                weight, bias = next(linear)
                h = torch.baddbmm(bias, h, weight)
            else:
                h = activation(h)
        h = h.reshape(len(x), -1)
        return h.squeeze(1) if self.is_discriminator else h

    def unstack(self) -> list[MLPGenerator] | list[MLPDiscriminator]:
        """The copies as separate models, with the stack's current weights."""
        models = []
        for copy_index in range(self.copies):
            model = copy.deepcopy(self._template)
            linears = [layer for layer in model.net if isinstance(layer, nn.Linear)]
            with torch.no_grad():
                for layer, weight, bias in zip(linears, self.weights, self.biases, strict=True):
                    layer.weight.copy_(weight[copy_index].T)
                    layer.bias.copy_(bias[copy_index, 0])
            models.append(model.to(self.weights[0].device))
        return models
