"""A small StyleGAN (Karras et al. 2019) for 32×32 grey images, with every change the paper makes to a
baseline (DCGAN-like) generator:

* a **mapping network** f: z → w (PixelNorm, then ``mapping_layers`` fully connected layers with LeakyReLU),
  so the latent the synthesis sees need not follow the fixed distribution of z;
* **styles through AdaIN**: each synthesis layer normalises every feature map and rescales it with a
  style (y_s, y_b) = A(w) computed from w by a learned affine map A,

      AdaIN(x_i, y) = y_s,i · (x_i − μ(x_i)) / σ(x_i) + y_b,i ;

* a **learned constant** 4×4 input instead of the latent vector;
* **per-layer noise**: x + B · n, n ~ N(0, 1) one plane per layer, B a learned per-channel scale;
* **bilinear upsampling** (then a 3×3 convolution) instead of transposed convolutions;
* **style mixing**: :meth:`StyleGenerator.forward` takes one w per layer, so two latents can drive the coarse
  (4×4, 8×8), middle (16×16) and fine (32×32) layers.

Resolutions 4 → 8 → 16 → 32, two style layers each (8 in all). Progressive growing is not used (the
paper's successor dropped it too); the truncation trick uses the running mean w̄ of the mapping outputs.

Every layer of G and D uses the paper's **equalised learning rate** (:class:`EqualLinear`,
:class:`EqualConv2d`): weights are stored as N(0, 1/m²) and multiplied at run time by c = m/√fan_in, so that
Adam's step changes every layer's effective weights at the same relative speed; the mapping network's
multiplier m = 0.01 (:data:`MAPPING_LR_MULTIPLIER`) makes it learn 100× slower, which is what the paper's
learning rate 0.001 assumes. The discriminator ends with a **minibatch standard deviation** layer
(:class:`MinibatchStdDev`, Karras et al. 2018), which lets it see a batch's lack of variety and so
penalises mode collapse.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.validation import check_count, check_dtype, check_image_shape, check_latents, check_model_input

RESOLUTIONS = (4, 8, 16, 32)
LAYERS_PER_RESOLUTION = 2
STYLE_GROUPS = {"coarse": range(0, 4), "middle": range(4, 6), "fine": range(6, 8)}  # layers by resolution
MAPPING_LR_MULTIPLIER = 0.01  # the paper: the mapping network's learning rate is 100× lower
MINIBATCH_GROUP = 4  # images per group of the minibatch standard deviation


class EqualLinear(nn.Module):
    """y = x (c·W)ᵀ + m·b with c = m / √in_features: the equalised learning rate. ``weight`` is drawn from
    N(0, 1/m²), so the effective weight c·W starts as N(0, 1/in_features) (He's initialisation), and a step of
    the optimiser on W moves c·W m times as far as on a plain layer."""

    def __init__(self, in_features: int, out_features: int, lr_multiplier: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)


class EqualConv2d(nn.Module):
    """A convolution with the equalised learning rate: weights N(0, 1) scaled at run time by
    1/√(in_channels · k²)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, self.stride, self.padding)


class MinibatchStdDev(nn.Module):
    """Append one feature map: the standard deviation of each feature over a group of ``group_size`` images,
    averaged over features and pixels, σ = mean_{c,h,w} √(Var_group(x) + 1e-8), the same for every image of
    the group (groups: images n, n + N/G, n + 2N/G, …; G the largest divisor of N up to ``group_size``)."""

    def __init__(self, group_size: int = MINIBATCH_GROUP) -> None:
        super().__init__()
        check_count("group_size", group_size)
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count, channels, height, width = x.shape
        group = max(size for size in range(1, min(self.group_size, count) + 1) if count % size == 0)
        grouped = x.reshape(group, count // group, channels, height, width)
        deviation = (grouped.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))   # one value per group
        plane = deviation.reshape(1, -1, 1, 1, 1).expand(group, -1, 1, height, width).reshape(count, 1, height, width)
        return torch.cat([x, plane], dim=1)


class PixelNorm(nn.Module):
    """z / sqrt(mean(z²) + 1e-8) per vector."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Module):
    """f: z → w, ``layers`` fully connected layers (equalised, learning-rate multiplier ``lr_multiplier``) with
    LeakyReLU 0.2 after PixelNorm."""

    def __init__(self, latent_dim: int = 64, layers: int = 4, lr_multiplier: float = MAPPING_LR_MULTIPLIER) -> None:
        super().__init__()
        check_count("layers", layers)
        blocks: list[nn.Module] = [PixelNorm()]
        for _ in range(layers):
            blocks += [EqualLinear(latent_dim, latent_dim, lr_multiplier), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class AdaIN(nn.Module):
    """AdaIN(x, w) = y_s · (x − μ(x)) / σ(x) + y_b with (y_s, y_b) = A(w), A an equalised affine map whose
    bias starts at y_s = 1, y_b = 0."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, 2 * channels)
        with torch.no_grad():
            self.affine.bias.copy_(torch.cat([torch.ones(channels), torch.zeros(channels)]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.affine(w).chunk(2, dim=1)
        normalised = F.instance_norm(x, eps=1e-5)
        return scale[:, :, None, None] * normalised + bias[:, :, None, None]


class NoiseInjection(nn.Module):
    """x + B · n with one noise plane per image shared by the channels and a learned per-channel B (starts 0)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + self.weight * noise


class StyleLayer(nn.Module):
    """conv 3×3 → noise → LeakyReLU → AdaIN (one style input)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = EqualConv2d(in_channels, out_channels, 3, padding=1)
        self.noise = NoiseInjection(out_channels)
        self.adain = AdaIN(out_channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.adain(F.leaky_relu(self.noise(self.conv(x), noise), 0.2), w)


class StyleGenerator(nn.Module):
    """Mapping network + synthesis network (see the module docstring).

    Args:
        channels: output image channels.
        latent_dim: size of z and of w.
        mapping_layers: depth of the mapping network (the paper: 8).
        widths: feature maps at 4, 8, 16 and 32 pixels.
        mapping_lr_multiplier: the mapping network's learning-rate multiplier (equalised learning rate).
    """

    def __init__(self, channels: int = 1, latent_dim: int = 64, mapping_layers: int = 4,
                 widths: tuple[int, int, int, int] = (128, 128, 64, 32),
                 mapping_lr_multiplier: float = MAPPING_LR_MULTIPLIER) -> None:
        super().__init__()
        check_count("channels", channels)
        check_count("latent_dim", latent_dim)
        check_count("mapping_layers", mapping_layers)
        if len(widths) != len(RESOLUTIONS):
            raise ValueError(f"widths needs one entry per resolution {RESOLUTIONS}, got {widths}")
        self.latent_dim = latent_dim
        self.mapping = MappingNetwork(latent_dim, mapping_layers, mapping_lr_multiplier)
        self.constant = nn.Parameter(torch.randn(1, widths[0], 4, 4))
        layers, previous = [], widths[0]
        for width in widths:
            layers += [StyleLayer(previous, width, latent_dim), StyleLayer(width, width, latent_dim)]
            previous = width
        self.layers = nn.ModuleList(layers)
        self.to_image = EqualConv2d(widths[-1], channels, 1)
        self.register_buffer("w_average", torch.zeros(latent_dim))

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def map(self, z: torch.Tensor, track_average: bool = False, beta: float = 0.995) -> torch.Tensor:
        """w = f(z); with ``track_average`` the running mean w̄ (for truncation) moves towards this batch."""
        check_latents(z, self.latent_dim, "z")
        check_dtype(z, self, "z")
        w = self.mapping(z)
        if track_average:
            with torch.no_grad():
                self.w_average.lerp_(w.mean(0), 1 - beta)
        return w

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick: w' = w̄ + ψ (w − w̄); ψ = 1 leaves w, ψ = 0 gives the average image."""
        return self.w_average + psi * (w - self.w_average)

    def synthesise(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Images from one w per layer (``ws``: N × layers × latent_dim) and optional fixed noise planes."""
        if ws.dim() != 3 or ws.shape[1] != self.num_layers:
            raise ValueError(f"ws must be N×{self.num_layers}×{self.latent_dim} (one w per layer), got {tuple(ws.shape)}")
        if noise is not None and len(noise) != self.num_layers:
            raise ValueError(f"noise needs one plane per layer ({self.num_layers}), got {len(noise)}")
        check_dtype(ws, self, "ws")
        x = self.constant.expand(ws.shape[0], -1, -1, -1)
        for index, layer in enumerate(self.layers):
            if index > 0 and index % LAYERS_PER_RESOLUTION == 0:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = layer(x, ws[:, index], None if noise is None else noise[index])
        return torch.sigmoid(self.to_image(x))

    def forward(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """G(z): the same w for every layer, truncated with ``psi``."""
        w = self.truncate(self.map(z), psi) if psi != 1.0 else self.map(z)
        return self.synthesise(w[:, None].expand(-1, self.num_layers, -1))

    def noise_planes(self, count: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """One fixed noise plane per layer for ``count`` images (to hold the noise still)."""
        device = self.constant.device
        sides = [RESOLUTIONS[index // LAYERS_PER_RESOLUTION] for index in range(self.num_layers)]
        return [torch.randn(count, 1, side, side, generator=generator).to(device) for side in sides]


def mix_styles(w_first: torch.Tensor, w_second: torch.Tensor, layers: range | list[int], num_layers: int = 8,
               ) -> torch.Tensor:
    """One w per layer: ``w_second`` on ``layers``, ``w_first`` elsewhere (N × num_layers × d)."""
    ws = w_first[:, None].repeat(1, num_layers, 1)
    for index in layers:
        if not 0 <= index < num_layers:
            raise ValueError(f"layer {index} does not exist; layers are 0…{num_layers - 1}")
        ws[:, index] = w_second
    return ws


class StyleDiscriminator(nn.Module):
    """A convolutional discriminator for 32×32 images with the equalised learning rate: 32 → 64 → 128
    filters (4×4, stride 2, LeakyReLU 0.2), the minibatch standard deviation (:class:`MinibatchStdDev`), a
    3×3 convolution of 128 filters, linear → one logit."""

    def __init__(self, channels: int = 1, group_size: int = MINIBATCH_GROUP) -> None:
        super().__init__()
        check_count("channels", channels)
        self.channels = channels
        self.net = nn.Sequential(
            EqualConv2d(channels, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            EqualConv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            EqualConv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
            MinibatchStdDev(group_size), EqualConv2d(129, 128, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), EqualLinear(128 * 4 * 4, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        name = "the StyleGAN discriminator"
        if isinstance(images, torch.Tensor) and images.shape[-2:] == (28, 28):
            raise ValueError(f"{name} takes N×{self.channels}×32×32 images, got shape {tuple(images.shape)}; pad "
                             "28×28 images with gancourse.train.stylegan.pad_to_32")
        check_image_shape(images, (self.channels, 32, 32), name)
        check_model_input(self, images, f"the input of {name}")
        return self.net(images).squeeze(1)
