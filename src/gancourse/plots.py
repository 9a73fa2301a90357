"""Static figures: image grids (more plots arrive with the chapters that need them)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torchvision.utils import make_grid


def show_images(
    images: torch.Tensor,
    nrow: int = 8,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    scale: float = 0.5,
) -> Figure:
    """Show images (N×C×H×W in [0, 1]) as a grid of ``nrow`` per row; returns the figure.

    ``row_labels`` names each row (e.g. the class of a class-by-class grid).
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be N×1×H×W or N×3×H×W, got shape {tuple(images.shape)}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"images must lie in [0, 1], got values in [{images.min():.3f}, {images.max():.3f}]")
    rows = (len(images) + nrow - 1) // nrow
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=2, pad_value=1.0)
    height, width = images.shape[2:]
    figure, axis = plt.subplots(figsize=(scale * nrow * width / 28 + (1.2 if row_labels else 0),
                                         scale * rows * height / 28 + (0.4 if title else 0)))
    axis.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
    axis.set_xticks([])
    if row_labels is not None:
        step = height + 2
        axis.set_yticks([2 + step * row + height / 2 for row in range(rows)], labels=list(row_labels))
        axis.tick_params(left=False)
    else:
        axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def class_examples(images: torch.Tensor, labels: torch.Tensor, num_classes: int, per_class: int) -> torch.Tensor:
    """The first ``per_class`` images of every class, class by class (for a class-by-class grid)."""
    picked = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()[:per_class]
        if len(members) < per_class:
            raise ValueError(f"class {label} has only {len(members)} images, {per_class} wanted")
        picked.append(images[members])
    return torch.cat(picked)
