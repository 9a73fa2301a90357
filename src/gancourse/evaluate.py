"""Evaluation: accuracy (more metrics arrive with the chapters that need them)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The predicted class (argmax of the logits) of every image, computed in eval mode.

    The model's train/eval mode is restored afterwards. Predictions are returned on the images' device.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be N×C×H×W, got shape {tuple(images.shape)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        chunks = [model(images[start:start + batch_size].to(device)).argmax(1)
                  for start in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks).to(images.device)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    """The fraction of images whose predicted class equals its label."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return (predict(model, images, batch_size) == labels.to(images.device)).float().mean().item()
