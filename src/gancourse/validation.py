"""Input checks shared by the whole package: each raises with a message that says what was wrong and
how to fix it, so that bad input fails at the call that received it, not deep inside PyTorch.

Images are N×C×H×W floats in [0, 1] (the book's models take unnormalised pixels) of the dtype of the
model's weights (float32 throughout the book), labels one int64 class index per image, latents N×d
standard-normal vectors, hyper-parameters finite numbers in their range.

What a model's forward pass checks (:func:`check_model_input`): shape and dtype on every call; NaN/Inf and
the [0, 1] range only when the model is in eval mode and the images do not require gradients, i.e. on a
prediction, not inside a training loop (train mode) or an attack's gradient step (inputs that require
gradients), whose images the trainer's loader or the attack's base class has checked once already.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MODEL_RANGE_TOLERANCE = 1e-5   # float rounding of x + (g(x) − x) in BPDA may step a hair outside [0, 1]


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
    _check_values(images, name, tolerance=0.0)


def _check_values(images: torch.Tensor, name: str, tolerance: float) -> None:
    """Raise unless every value of ``images`` is finite and in [−tolerance, 1 + tolerance]."""
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contain NaN or Inf")
    if images.numel() and (images.min() < -tolerance or images.max() > 1 + tolerance):
        low, high = images.min().item(), images.max().item()
        fix = ("undo a Normalize transform (x · std + mean); a model that needs normalising does it inside"
               if low < 0 else "divide 0…255 pixels by 255" if high > 1.5 else
               "clamp a perturbed image into the box with .clamp(0, 1)")
        raise ValueError(f"{name} must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]; the book's models "
                         f"take unnormalised pixels: {fix}")


def _weights_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter (None for a model without any)."""
    return next((parameter.dtype for parameter in model.parameters() if parameter.is_floating_point()), None)


def check_dtype(inputs: torch.Tensor, model: nn.Module, name: str = "images") -> None:
    """Raise unless ``inputs`` are floats of the dtype of ``model``'s weights (any float for a model without
    weights). Torch itself would fail later with "Input type (double) and bias type (float) should be the
    same"; nothing is converted silently, the message gives the conversion."""
    if not inputs.is_floating_point():
        raise ValueError(f"{name} must be floats, got dtype {inputs.dtype}"
                         + ("; convert uint8 pixels with images.float() / 255" if inputs.dtype == torch.uint8 else ""))
    expected = _weights_dtype(model)
    if expected is not None and inputs.dtype != expected:
        fix = ".float()" if expected == torch.float32 else f".to({expected})"
        raise ValueError(f"{name} are {inputs.dtype} but the model's weights are {expected}; "
                         f"convert them with {fix}")


def check_model_input(model: nn.Module, images: torch.Tensor, name: str) -> None:
    """The value checks of a model's forward pass, after its shape check: the dtype of its weights on every
    call; finite values in [0, 1] (within float rounding) when ``model`` is in eval mode and ``images`` do not
    require gradients, so that training steps and attacks' gradient steps pay nothing."""
    check_dtype(images, model, name)
    if not model.training and not images.requires_grad:
        _check_values(images, name, MODEL_RANGE_TOLERANCE)


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


def check_linf_budget(name: str, eps: float, allow_zero: bool = True) -> None:
    """Raise unless ``eps`` is an ℓ∞ budget in [0, 1] (or (0, 1] without ``allow_zero``): pixels lie in
    [0, 1], so ε > 1 allows every image, and is usually a budget in 0…255 units (8 meant as 8/255)."""
    check_positive(name, eps, allow_zero)
    if eps > 1:
        raise ValueError(f"{name} = {eps:g} is an ℓ∞ budget larger than the whole pixel range [0, 1], so it "
                         f"allows any image; pixels are in [0, 1]: write a budget of 8 grey levels as 8/255")


def check_seed(seed: int) -> None:
    """Raise unless ``seed`` is an integer in [0, 2**32) (what ``numpy.random.seed`` accepts)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")


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
