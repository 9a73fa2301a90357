"""The two kinds of defense the book builds, each with one interface.

A **preprocessing defense** g (Defense-GAN's projection, APE-GAN's generator, MagNet's reformer) is a
:class:`Preprocessor`: an ``nn.Module`` whose output the classifier f sees, so the defended model is

    f(g(x)) = nn.Sequential(g, f)(x).

Calling g checks the images (:func:`gancourse.validation.check_images`, then their channel count against
what g's networks take), runs g's networks frozen in eval mode (:func:`gancourse.networks.frozen_eval`,
each network's mode and ``requires_grad`` flags restored afterwards) on the networks' device, checks that the
output has the input's shape, and returns it on the input's device. The class attribute ``differentiable``
says how an attacker who knows the defense gets a gradient through it: ``True``, g's own Jacobian is useful
(APE-GAN, MagNet: differentiate f∘g); ``False``, it is not (Defense-GAN: L steps of an inner optimisation),
and the attacker replaces it by BPDA (Athalye et al. 2018), g's output on the forward pass and the identity
on the backward pass. :meth:`Preprocessor.attackable` is the one place that makes this choice; a
non-differentiable preprocessor refuses to be differentiated directly, with a message that points there.

A **detecting defense** is a :class:`ThresholdDetector`: ``scores(images)`` gives one score per image,
higher meaning more suspicious, and it rejects an image when its score exceeds the threshold τ,

    rejects(x) = scores(x) > τ,

with τ = +∞ meaning "detector off" (nothing is rejected). :meth:`ThresholdDetector.calibrate` sets τ from
clean images so that a chosen fraction of them (the false-positive rate) would be rejected.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from contextlib import ExitStack
from typing import ClassVar

import torch
from torch import nn

from gancourse.attacks.bpda import BPDA
from gancourse.networks import frozen_eval, model_device
from gancourse.validation import check_dtype, check_images


def input_channels(network: nn.Module) -> int | None:
    """The channel count ``network`` takes: ``in_channels`` of its first registered ``nn.Conv2d`` (the input
    layer of the book's sequential networks: APE-G, MagNet's autoencoder); None if it has no convolution."""
    return next((module.in_channels for module in network.modules() if isinstance(module, nn.Conv2d)), None)


class Preprocessor(nn.Module, ABC):
    """Base class of the preprocessing defenses (see the module docstring for the contract of a call).

    Subclasses set ``differentiable``, register their networks as submodules (every direct submodule is
    frozen in eval mode during a call), call ``super().__init__(channels)`` first, and implement
    :meth:`preprocess`.

    Args:
        channels: the channel count the networks take, checked before they run (None: not checked here).
    """

    differentiable: ClassVar[bool]

    def __init__(self, channels: int | None) -> None:
        super().__init__()
        self.channels = channels

    @property
    def randomised(self) -> bool:
        """Whether g draws fresh randomness on every call (an adaptive attacker then averages gradients over
        it: EOT); False unless a subclass says otherwise."""
        return False

    @abstractmethod
    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """g(x) for checked ``images`` already on the networks' device, with the networks frozen in eval mode."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        check_images(images)
        if self.channels is not None and images.shape[1] != self.channels:
            raise ValueError(f"{name}'s networks take {self.channels}-channel images, got {images.shape[1]} "
                             f"channels (images of shape {tuple(images.shape)}); use the defense trained on "
                             "this dataset")
        if not self.differentiable and images.requires_grad and torch.is_grad_enabled():
            raise RuntimeError(f"{name} has no useful gradient; attack nn.Sequential({name.lower()}.attackable(), "
                               "classifier), which puts BPDA (gancourse.attacks.bpda) in its place")
        for network in self.children():
            check_dtype(images, network)
        with ExitStack() as frozen:
            for network in self.children():
                frozen.enter_context(frozen_eval(network))
            output = self.preprocess(images.to(model_device(self)))
        if output.shape != images.shape:
            raise ValueError(f"{name} turned images of shape {tuple(images.shape)} into {tuple(output.shape)}: "
                             "its networks do not take images of this size")
        return output.to(images.device)

    def attackable(self) -> nn.Module:
        """What an attacker who knows the defense differentiates in place of g: g itself when
        ``differentiable``, else BPDA(g). The adaptive attack targets ``nn.Sequential(g.attackable(), f)``."""
        return self if self.differentiable else BPDA(self)


class ThresholdDetector(ABC):
    """Base class of the detecting defenses: :meth:`scores`, ``threshold`` τ, :meth:`rejects`, :meth:`calibrate`.

    Subclasses implement :meth:`scores` and may set ``score_floor``, the lowest score possible (0 for a
    reconstruction error): a threshold below it would reject every image and is refused, as is NaN (which
    would silently turn the detector off). τ = +∞ is legitimate: the detector is off.
    """

    score_floor: ClassVar[float] = -math.inf

    @abstractmethod
    def scores(self, images: torch.Tensor) -> torch.Tensor:
        """One score per image (N values on the images' device); higher means more likely adversarial."""

    @property
    def threshold(self) -> float:
        """τ: an image is rejected when its score exceeds it (+∞: the detector is off)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        name = type(self).__name__
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(f"{name}'s threshold must be a number, got {value!r}; use float('inf') to turn the "
                             "detector off, or calibrate() it on clean images")
        if math.isnan(value):
            raise ValueError(f"{name}'s threshold is NaN, which would silently turn the detector off (no score "
                             "exceeds NaN); use float('inf') to turn it off, or calibrate() it on clean images")
        if value == -math.inf or value < self.score_floor:
            raise ValueError(f"{name}'s threshold must be at least {self.score_floor} (its lowest possible score), "
                             f"got {value}: it would reject every image; calibrate() it on clean images")
        self._threshold = float(value)

    def rejects(self, images: torch.Tensor) -> torch.Tensor:
        """True where the detector rejects the image: scores(x) > τ (nothing is scored when τ = +∞)."""
        if self.threshold == math.inf:
            check_images(images)
            return torch.zeros(len(images), dtype=torch.bool, device=images.device)
        return self.scores(images) > self.threshold

    def calibrate(self, clean_images: torch.Tensor, false_positive_rate: float = 0.01) -> float:
        """Set τ to the (1 − ``false_positive_rate``) quantile of the clean images' scores (linear
        interpolation), so that about that fraction of clean images is rejected; returns τ."""
        if not isinstance(false_positive_rate, numbers.Real) or not 0 <= false_positive_rate < 1:
            raise ValueError(f"false_positive_rate must be in [0, 1), got {false_positive_rate}")
        scores = self.scores(clean_images).double()
        self.threshold = torch.quantile(scores, 1 - false_positive_rate).item()
        return self.threshold
