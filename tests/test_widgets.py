"""The interactive widgets build and redraw, and their static twins show what the widgets show."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from gancourse import widgets  # noqa: E402
from gancourse.defenses.defense_gan import initial_latents, project  # noqa: E402
from gancourse.plots import plot_interpolations, plot_projection_explorer  # noqa: E402

CLASSES = [f"class {k}" for k in range(3)]


def generator(latent=4):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(latent, 16), nn.Sigmoid(), nn.Unflatten(1, (1, 4, 4))).eval()


def classifier():
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()


class ConditionalGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = generator(4 + 3)

    def forward(self, z, labels):
        return self.body(torch.cat([z, nn.functional.one_hot(labels, 3).float()], 1))


def redraw(widget):
    """Run the widget's callback with its current values, as moving a slider does; returns the figure."""
    plt.close("all")
    widget.update()
    assert plt.get_fignums(), "the widget drew nothing"
    return plt.figure(plt.get_fignums()[-1])


def test_every_widget_builds_and_redraws_when_a_control_moves():
    x = torch.rand(5, 1, 4, 4)
    y = torch.tensor([0, 1, 2, 0, 1])
    made = [
        widgets.epsilon_slider(classifier(), x, y, CLASSES),
        widgets.latent_interpolation(generator(), torch.randn(3, 4), torch.randn(3, 4)),
        widgets.conditional_generation(ConditionalGenerator(), CLASSES, latent_dim=4, samples=6),
        widgets.defense_gan_explorer(generator(), 4, classifier(), x, x.flip(0), CLASSES, max_steps=20),
    ]
    for widget in made:
        redraw(widget)
        widget.children[0].value = widget.children[0].max if hasattr(widget.children[0], "max") else 1
        redraw(widget)


def test_interpolation_twin_starts_and_ends_at_the_endpoints():
    g, a, b = generator(), torch.randn(2, 4), torch.randn(2, 4)
    figure = plot_interpolations(g, a, b, [0.0, 0.5, 1.0])
    grid = figure.axes[0].images[0].get_array()
    cell = lambda row, col: torch.tensor(grid[2 + row * 6:6 + row * 6, 2 + col * 6:6 + col * 6, 0])  # 4×4 + 2 pad
    with torch.no_grad():
        start, end = g(a)[0, 0], g(b)[0, 0]
    for row in (0, 1):              # slerp and lerp rows of the first pair
        assert torch.allclose(cell(row, 0).float(), start, atol=1e-5)
        assert torch.allclose(cell(row, 2).float(), end, atol=1e-4)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        plot_interpolations(g, a, b, [0.0, 1.5])
    with pytest.raises(ValueError, match="one shape"):
        plot_interpolations(g, a, b[:1], [0.5])


def test_projection_twin_shows_the_package_projection_and_its_error():
    g, x = generator(), torch.rand(2, 1, 4, 4)
    figure = plot_projection_explorer(g, 4, classifier(), x, x.flip(0), CLASSES, [(10, 2)], seed=3)
    assert len(figure.axes) == 2 * 4
    starts = initial_latents(2, 2, 4, generator=torch.Generator().manual_seed(3))
    expected = project(g, x, starts, steps=10)
    shown = torch.tensor(figure.axes[2].images[0].get_array())          # row 0, "clean L=10 R=2"
    assert torch.allclose(shown.float(), expected.reconstructions[0, 0], atol=1e-5)
    assert f"e = {expected.errors[0]:.4f}" in figure.axes[2].get_title()
    with pytest.raises(ValueError, match="differ in shape"):
        plot_projection_explorer(g, 4, classifier(), x, x[:1], CLASSES, [(10, 2)])
