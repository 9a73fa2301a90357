"""Input checks shared by the whole package: each raises with a message that says what was wrong and
how to fix it, so that bad input fails at the call that received it, not deep inside PyTorch.

Images are N×C×H×W floats in [0, 1] (the book's models take unnormalised pixels), labels one int64 class
index per image, latents N×d standard-normal vectors, hyper-parameters finite numbers in their range.
"""

from __future__ import annotations

import math

import torch


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """Raise a ValueError unless ``images`` is a finite float N×C×H×W tensor with values in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"{name} must be N×C×H×W, got shape {tuple(images.shape)}; "
                         "add a batch dimension with images.unsqueeze(0) for a single image")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be floats in [0, 1], got dtype {images.dtype}; "
                         "convert uint8 pixels with images.float() / 255")
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contain NaN or Inf")
    if len(images) and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{images.min().item():.3g}, "
                         f"{images.max().item():.3g}]; the book's models take unnormalised pixels")


def check_labels(labels: torch.Tensor, count: int, name: str = "labels") -> None:
    """Raise a ValueError unless ``labels`` is a 1-D integer tensor of ``count`` non-negative class indices."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dim() != 1 or len(labels) != count:
        raise ValueError(f"{name} must hold one class index per image: expected shape ({count},), "
                         f"got {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must be integer class indices (int64), got {labels.dtype}; "
                         "pass class indices, not one-hot vectors or probabilities")
    if count and labels.min() < 0:
        raise ValueError(f"{name} must be non-negative class indices, got {labels.min().item()}")


def check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    """Raise a ValueError unless ``value`` is a finite number > 0 (or ≥ 0 with ``allow_zero``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value}")


def check_count(name: str, value: int, minimum: int = 1) -> None:
    """Raise a ValueError unless ``value`` is an integer ≥ ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")


def check_latents(latents: torch.Tensor, latent_dim: int, name: str = "latents") -> None:
    """Raise unless ``latents`` is a finite float N×``latent_dim`` tensor (a batch of codes z)."""
    if not isinstance(latents, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(latents).__name__}")
    if latents.dim() != 2 or latents.shape[1] != latent_dim:
        raise ValueError(f"{name} must be N×{latent_dim} (one {latent_dim}-dimensional code per row), got shape "
                         f"{tuple(latents.shape)}; draw them with torch.randn(n, {latent_dim})")
    if not latents.is_floating_point():
        raise ValueError(f"{name} must be floats, got dtype {latents.dtype}")
    if not torch.isfinite(latents).all():
        raise ValueError(f"{name} contain NaN or Inf")


def check_image_shape(images: torch.Tensor, shape: tuple[int, ...], model: str) -> None:
    """Raise unless ``images`` is a float N×``shape`` batch (shape only: cheap enough for every forward pass)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{model} takes a torch.Tensor of images, got {type(images).__name__}")
    if images.dim() != 1 + len(shape) or tuple(images.shape[1:]) != tuple(shape):
        expected = "×".join(str(size) for size in shape)
        raise ValueError(f"{model} takes N×{expected} images, got shape {tuple(images.shape)}"
                         + ("; add a batch dimension with images.unsqueeze(0)" if tuple(images.shape) == tuple(shape)
                            else ""))
    if not images.is_floating_point():
        raise ValueError(f"{model} takes float images in [0, 1], got dtype {images.dtype}; "
                         "convert uint8 pixels with images.float() / 255")


def check_class_indices(labels: torch.Tensor, count: int, num_classes: int, name: str = "labels") -> None:
    """Raise unless ``labels`` holds ``count`` integer class indices in [0, ``num_classes``)."""
    check_labels(labels, count, name)
    if count and labels.max() >= num_classes:
        raise ValueError(f"{name} hold class {labels.max().item()}, but the model knows {num_classes} classes "
                         f"(0 … {num_classes - 1})")
