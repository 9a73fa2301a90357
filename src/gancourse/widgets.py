"""Interactive widgets (ipywidgets) for Jupyter and Colab; each has a static twin in :mod:`gancourse.plots`."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch


def epsilon_slider(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   class_names: Sequence[str], max_eps: float = 0.3):
    """A slider for ε and one for the image: FGSM's perturbation, the adversarial image and the model's
    probabilities (static twin: :func:`gancourse.plots.plot_epsilon_panel`). Returns the widget."""
    import ipywidgets

    from gancourse.plots import plot_epsilon_panel

    def show(eps: float, index: int) -> None:
        plot_epsilon_panel(model, images[index], int(labels[index]), class_names, [eps])
        plt.show()

    return ipywidgets.interactive(
        show,
        eps=ipywidgets.FloatSlider(value=0.05, min=0.0, max=max_eps, step=0.01, description="ε"),
        index=ipywidgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image"),
    )
