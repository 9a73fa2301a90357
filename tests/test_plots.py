"""Plots: the epsilon panel, and the image grid with its row and column labels."""

from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")


def test_epsilon_panel_draws_one_row_per_budget_and_keeps_the_model_mode(tiny_convnet):
    import matplotlib
    matplotlib.use("Agg")
    from gancourse.plots import plot_epsilon_panel
    model = tiny_convnet()
    model.train()
    figure = plot_epsilon_panel(model, torch.rand(1, 6, 6), 0, [str(k) for k in range(5)], (0.0, 0.05, 0.1))
    assert len(figure.axes) == 3 * 3 + 3 and model.training                  # three panels and a colour bar per row
    perturbations = [axis for axis in figure.axes if axis.get_title().startswith("perturbation")]
    assert [axis.images[0].get_clim() for axis in perturbations] == [(-1e-3, 1e-3), (-0.05, 0.05), (-0.1, 0.1)]
    assert perturbations[0].images[0].get_cmap().name == "RdBu_r"              # red = brighter, as the book says


def test_rows_and_columns_carry_their_labels():
    from gancourse.plots import show_images
    figure = show_images(torch.rand(6, 1, 28, 28), nrow=3, row_labels=["start", "optimised"],
                         column_labels=["T-shirt", "Trouser", "Pullover"], marks=[True, False, None, True, True, False])
    axis = figure.axes[0]
    assert [text.get_text() for text in axis.texts] == ["✓", "✗", "–", "✓", "✓", "✗"]
    assert [text.get_color() for text in axis.texts][:3] == ["limegreen", "red", "gold"]
    assert [label.get_text() for label in axis.get_xticklabels()] == ["T-shirt", "Trouser", "Pullover"]
    assert [label.get_text() for label in axis.get_yticklabels()] == ["start", "optimised"]
    matplotlib.pyplot.close(figure)


def test_labels_that_do_not_fit_the_grid_are_refused():
    from gancourse.plots import show_images
    with pytest.raises(ValueError, match="5 marks for 6 images"):
        show_images(torch.rand(6, 1, 8, 8), nrow=3, marks=[True] * 5)
    with pytest.raises(ValueError, match="2 column labels for 3 columns"):
        show_images(torch.rand(6, 1, 8, 8), nrow=3, column_labels=["a", "b"])
    with pytest.raises(ValueError, match="1 row labels for 2 rows"):
        show_images(torch.rand(6, 1, 8, 8), nrow=3, row_labels=["a"])


def test_point_panels_fill_rows_of_the_given_columns():
    from gancourse.plots import plot_points_2d
    panels = [(f"seed {k}", torch.randn(50, 2)) for k in range(7)]
    figure = plot_points_2d(panels, centers=torch.zeros(1, 2), columns=5, size=2.0)
    visible = [axis for axis in figure.axes if axis.get_visible()]
    assert len(figure.axes) == 10 and [axis.get_title() for axis in visible] == [title for title, _ in panels]
    assert tuple(figure.get_size_inches()) == pytest.approx((10.0, 4.2))
    matplotlib.pyplot.close(figure)
    with pytest.raises(ValueError, match="at least one panel"):
        plot_points_2d([])


def test_mode_share_maps_draw_one_panel_per_run_on_one_scale():
    from gancourse.plots import plot_mode_shares
    collapsed = torch.zeros(4, 8)
    collapsed[:, 3] = 0.9
    hopping = torch.eye(8)[[0, 2, 4, 6]] * 0.5
    figure = plot_mode_shares([("collapsed", [0, 10, 20, 30], collapsed), ("hopping", [0, 10, 20, 30], hopping)])
    panels = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in panels] == ["collapsed", "hopping"]
    assert all(axis.images[0].get_clim() == (0, pytest.approx(0.9)) for axis in panels)   # one colour scale
    assert panels[0].images[0].get_array().shape == (8, 4)                                # modes × snapshots
    assert [axis.get_ylabel() for axis in panels] == ["mode", ""]                         # once per row
    matplotlib.pyplot.close(figure)
    with pytest.raises(ValueError, match="one row per step"):
        plot_mode_shares([("bad", [0, 10], collapsed)])
