"""BPDA, the backward-pass differentiable approximation (Athalye, Carlini & Wagner 2018), with the identity.

A preprocessing defense g (Defense-GAN's projection, APE-GAN's generator, a reformer) can make the
gradient of f(g(x)) useless: zero, noisy, or too costly to take through L optimisation steps. BPDA keeps
the forward pass exact and replaces g's Jacobian by the identity on the backward pass, which is sound
when g(x) ≈ x:

    forward:  BPDA_g(x) = g(x)          backward:  ∂BPDA_g/∂x := I

implemented as x + stopgrad(g(x) − x). Any attack then runs on ``nn.Sequential(BPDA(g), classifier)``.
The book's preprocessing defenses say whether they need it (``differentiable``, see
:mod:`gancourse.defenses.base`): ``g.attackable()`` is BPDA(g) for those that do and g itself otherwise.
BPDA also wraps a differentiable g, to compare the identity's gradient with g's own (chapter 10).
"""

from __future__ import annotations

import torch
from torch import nn


class BPDA(nn.Module):
    """Wrap ``preprocessor`` so that its output is exact and its gradient is the identity."""

    def __init__(self, preprocessor: nn.Module) -> None:
        super().__init__()
        self.preprocessor = preprocessor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            processed = self.preprocessor(x)
        if processed.shape != x.shape:
            raise ValueError(f"BPDA needs a preprocessor that keeps the shape: {tuple(x.shape)} became "
                             f"{tuple(processed.shape)}")
        return x + (processed - x).detach()
