"""The article's two optimisation views of an adversarial input (the "iguana" examples).

Gradient descent on the *pixels*, the network fixed, minimising

    L(x) = ‖softmax(f(x)) − e_t‖₂²  +  λ · ‖x − x₀‖₂²

with e_t the one-hot vector of the wanted class t. With λ = 0 and x started from white noise, x becomes
*some* input the network calls t (the "non-targeted" view of the article: nothing ties x to a real
image). With λ > 0 and x₀ a real image, x stays close to x₀ while its label moves to t (the article's
targeted view). After every Adam step the pixels are clamped to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.networks import frozen_eval
from gancourse.validation import check_count, check_images, check_labels, check_positive


def optimise_input(model: nn.Module, start: torch.Tensor, target: torch.Tensor, *, steps: int = 200,
                   lr: float = 0.01, closeness: float = 0.0, anchor: torch.Tensor | None = None,
                   ) -> tuple[torch.Tensor, list[float]]:
    """Minimise ‖softmax(f(x)) − e_t‖² + closeness · ‖x − anchor‖² over x ∈ [0, 1]^d, from ``start``.

    Returns the optimised images (detached) and the mean loss after every step.
    """
    check_images(start, "start")
    check_labels(target, len(start), "target")
    check_count("steps", steps)
    check_positive("lr", lr)
    check_positive("closeness", closeness, allow_zero=True)
    if closeness > 0:
        if anchor is None:
            raise ValueError("closeness > 0 needs the real images to stay close to: pass anchor=")
        check_images(anchor, "anchor")
        if anchor.shape != start.shape:
            raise ValueError(f"anchor has shape {tuple(anchor.shape)}, start {tuple(start.shape)}; they must match")
    x = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    history = []
    with frozen_eval(model):
        one_hot = F.one_hot(target, model(x[:1]).shape[1]).float()
        for _ in range(steps):
            loss = (model(x).softmax(1) - one_hot).pow(2).sum(1)
            if closeness > 0:
                loss = loss + closeness * (x - anchor).flatten(1).pow(2).sum(1)
            optimizer.zero_grad(set_to_none=True)
            loss.mean().backward()
            optimizer.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)
            history.append(loss.mean().item())
    return x.detach(), history
