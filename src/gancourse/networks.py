"""Using a trained network without changing it: frozen in eval mode, on its own device, differentiated
with respect to its input only. Attacks, defenses, evaluation and plots all use these three helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block with ``model`` in eval mode and its parameters' ``requires_grad`` off; restore both after."""
    was_training = model.training
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    model.eval()
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def input_gradient(loss: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """∇_x loss(x) for a scalar-valued ``loss``, without touching any parameter's ``.grad``."""
    x = x.detach().requires_grad_(True)
    gradient, = torch.autograd.grad(loss(x), x)
    return gradient
