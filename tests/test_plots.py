"""Plots: the epsilon panel."""

from __future__ import annotations

import torch


def test_epsilon_panel_draws_one_row_per_budget_and_keeps_the_model_mode(tiny_convnet):
    import matplotlib
    matplotlib.use("Agg")
    from gancourse.plots import plot_epsilon_panel
    model = tiny_convnet()
    model.train()
    figure = plot_epsilon_panel(model, torch.rand(1, 6, 6), 0, [str(k) for k in range(5)], (0.0, 0.05, 0.1))
    assert len(figure.axes) == 3 * 3 and model.training
