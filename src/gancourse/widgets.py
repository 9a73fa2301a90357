"""Interactive widgets (ipywidgets) for Jupyter and Colab. Each has a static twin that the executed book
shows instead (the widget cells carry the ``remove-output`` tag, since a static page cannot run Python):

* :func:`epsilon_slider`           — FGSM's ε and the image       (twin :func:`gancourse.plots.plot_epsilon_panel`)
* :func:`latent_interpolation`     — walk between two latents      (twin :func:`gancourse.plots.plot_interpolations`)
* :func:`conditional_generation`   — a cGAN's class and noise      (twin: the chapter's class-by-class grid)
* :func:`defense_gan_explorer`     — Defense-GAN's L and R         (twin :func:`gancourse.plots.plot_projection_explorer`)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from torch import nn

from gancourse.networks import model_device
from gancourse.validation import check_count, check_images, check_labels, check_latents, check_positive


def _interactive(draw: Callable[..., object], **controls: object):
    """``ipywidgets.interactive`` that shows the figure ``draw`` makes (imported late: ipywidgets is only
    needed by readers who run the notebooks)."""
    import ipywidgets

    def show(**values: object) -> None:
        draw(**values)
        plt.show()

    return ipywidgets.interactive(show, **controls)


def _check_choices(images: torch.Tensor, class_names: Sequence[str]) -> None:
    if not len(images):
        raise ValueError("no images to choose from: pass at least one")
    if not class_names:
        raise ValueError("class_names is empty: pass the dataset's class names, e.g. bundle.info.classes")


def epsilon_slider(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   class_names: Sequence[str], max_eps: float = 0.3):
    """A slider for ε and one for the image: FGSM's perturbation, the adversarial image and the model's
    probabilities. Returns the widget."""
    import ipywidgets

    check_images(images)
    check_labels(labels, len(images))
    _check_choices(images, class_names)
    check_positive("max_eps", max_eps)

    from gancourse.plots import plot_epsilon_panel

    return _interactive(
        lambda eps, index: plot_epsilon_panel(model, images[index], int(labels[index]), class_names, [eps]),
        eps=ipywidgets.FloatSlider(value=0.05, min=0.0, max=max_eps, step=0.01, description="ε"),
        index=ipywidgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image"))


def latent_interpolation(generator: nn.Module, starts: torch.Tensor, ends: torch.Tensor):
    """Sliders for the pair of latents and for t: G(slerp(z₀, z₁; t)) next to G(lerp(z₀, z₁; t)), with the
    two endpoints. ``starts`` and ``ends`` are N×latent."""
    import ipywidgets

    latent_dim = getattr(generator, "latent_dim", None)            # generators without the attribute: z's width
    if latent_dim is None and isinstance(starts, torch.Tensor) and starts.dim() == 2:
        latent_dim = starts.shape[1]
    check_latents(starts, latent_dim, "starts")
    check_latents(ends, latent_dim, "ends")
    if len(starts) != len(ends) or not len(starts):
        raise ValueError(f"starts and ends must pair up: got {len(starts)} starts and {len(ends)} ends (at least one)")

    from gancourse.plots import plot_interpolations

    def draw(pair: int, t: float) -> None:
        plot_interpolations(generator, starts[pair:pair + 1], ends[pair:pair + 1], [0.0, t, 1.0])

    return _interactive(draw, pair=ipywidgets.IntSlider(value=0, min=0, max=len(starts) - 1, description="pair"),
                        t=ipywidgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t"))


def conditional_generation(generator: nn.Module, class_names: Sequence[str], latent_dim: int, samples: int = 16):
    """A class menu and a noise seed: ``samples`` images G(z, y) of the chosen class."""
    import ipywidgets

    if not class_names:
        raise ValueError("class_names is empty: pass the dataset's class names, e.g. bundle.info.classes")
    check_count("latent_dim", latent_dim)
    check_count("samples", samples)

    from gancourse.plots import show_images

    device = model_device(generator)

    def draw(label: int, noise_seed: int) -> None:
        z = torch.randn(samples, latent_dim, generator=torch.Generator().manual_seed(noise_seed)).to(device)
        with torch.no_grad():
            images = generator(z, torch.full((samples,), label, device=device))
        show_images(images.cpu(), nrow=samples, title=f"G(z, y = {class_names[label]})")

    return _interactive(
        draw, label=ipywidgets.Dropdown(options=[(name, k) for k, name in enumerate(class_names)], description="class"),
        noise_seed=ipywidgets.IntSlider(value=0, min=0, max=99, description="noise seed"))


def defense_gan_explorer(generator: nn.Module, latent_dim: int, classifier: nn.Module, clean: torch.Tensor,
                         adversarial: torch.Tensor, class_names: Sequence[str], max_steps: int = 400,
                         max_restarts: int = 10):
    """Sliders for L, R and the image: the clean and adversarial inputs, their projections G(z*) with the
    reconstruction error and the classifier's answer."""
    import ipywidgets

    check_images(clean, "clean")
    check_images(adversarial, "adversarial")
    if clean.shape != adversarial.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and adversarial {tuple(adversarial.shape)} images must pair up")
    _check_choices(clean, class_names)
    check_count("latent_dim", latent_dim)
    check_count("max_steps", max_steps, minimum=5)
    check_count("max_restarts", max_restarts)

    from gancourse.plots import plot_projection_explorer

    def draw(steps: int, restarts: int, index: int) -> None:
        plot_projection_explorer(generator, latent_dim, classifier, clean[index:index + 1],
                                 adversarial[index:index + 1], class_names, [(steps, restarts)])

    return _interactive(
        draw, steps=ipywidgets.IntSlider(value=50, min=5, max=max_steps, step=5, description="L (steps)"),
        restarts=ipywidgets.IntSlider(value=4, min=1, max=max_restarts, description="R (restarts)"),
        index=ipywidgets.IntSlider(value=0, min=0, max=len(clean) - 1, description="image"))
