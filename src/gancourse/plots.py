"""Static figures: image grids (more plots arrive with the chapters that need them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import patheffects
from matplotlib.figure import Figure
from torchvision.utils import make_grid


def show_images(
    images: torch.Tensor,
    nrow: int = 8,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    scale: float = 0.5,
    column_labels: Sequence[str] | None = None,
    marks: Sequence[bool | None] | None = None,
) -> Figure:
    """Show images (N×C×H×W in [0, 1]) as a grid of ``nrow`` per row; returns the figure.

    ``row_labels`` names each row (e.g. the class of a class-by-class grid), ``column_labels`` each column (e.g.
    the target class of a per-target grid; shown under the grid, small and rotated so long names do not collide).
    ``marks`` puts a green ✓ (True) or a red ✗ (False) in the corner of each image (e.g. "target reached"), or a
    gold – (None) where the question does not apply (e.g. an attack on an image the model already got wrong).
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be N×1×H×W or N×3×H×W, got shape {tuple(images.shape)}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"images must lie in [0, 1], got values in [{images.min():.3f}, {images.max():.3f}]")
    rows = (len(images) + nrow - 1) // nrow
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
    if column_labels is not None and len(column_labels) != min(nrow, len(images)):
        raise ValueError(f"{len(column_labels)} column labels for {min(nrow, len(images))} columns")
    if marks is not None and len(marks) != len(images):
        raise ValueError(f"{len(marks)} marks for {len(images)} images: one per image")
    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=2, pad_value=1.0)
    height, width = images.shape[2:]
    figure, axis = plt.subplots(figsize=(scale * nrow * width / 28 + (1.2 if row_labels else 0),
                                         scale * rows * height / 28 + (0.4 if title else 0)
                                         + (0.6 if column_labels else 0)))
    axis.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
    for index, mark in enumerate(marks if marks is not None else []):
        row, column = divmod(index, nrow)
        symbol, color = ("–", "gold") if mark is None else ("✓", "limegreen") if mark else ("✗", "red")
        axis.text(2 + (width + 2) * column + width - 1, 2 + (height + 2) * row + 1, symbol, color=color,
                  fontsize=8, ha="right", va="top", fontweight="bold",
                  path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])  # seen on any pixel
    if column_labels is not None:
        axis.set_xticks([2 + (width + 2) * column + width / 2 for column in range(len(column_labels))],
                        labels=list(column_labels), rotation=45, ha="right", fontsize=7)
        axis.tick_params(bottom=False)
    else:
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


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value and the ``window − 1`` before it (fewer at the start)."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def plot_history(history: dict[str, Sequence[float]], panels: dict[str, Sequence[str]],
                 window: int = 50, xlabel: str = "generator step") -> Figure:
    """One panel per entry of ``panels`` (title → history keys), curves smoothed over ``window`` steps."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for axis, (title, keys) in zip(axes[0], panels.items(), strict=True):
        for key in keys:
            if key not in history:
                raise KeyError(f"{key!r} is not in the history (it has {', '.join(history)})")
            axis.plot(moving_average(history[key], window), label=key)
        axis.set_title(title)
        axis.set_xlabel(xlabel)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_1d_gan(panels: Sequence[dict], real_density: Callable[[torch.Tensor], torch.Tensor]) -> Figure:
    """The lecture's figure, one panel per moment of training.

    Each panel is a dict with ``title``, ``fake`` (generated samples), ``grid`` (x values) and
    ``d`` (D(x) on the grid): the real density (blue line), a histogram of the generated samples (orange)
    and the discriminator's output (grey, right axis).
    """
    figure, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False, sharey=True)
    for axis, panel in zip(axes[0], panels, strict=True):
        grid = panel["grid"]
        axis.plot(grid, real_density(grid), color="tab:blue", label="real density")
        axis.hist(panel["fake"].flatten().numpy(), bins=60, range=(float(grid[0]), float(grid[-1])),
                  density=True, color="tab:orange", alpha=0.6, label="generated")
        twin = axis.twinx()
        twin.plot(grid, panel["d"], color="grey", linestyle="--", label="D(x)")
        twin.set_ylim(0, 1)
        twin.axhline(0.5, color="grey", linewidth=0.5)
        axis.set_title(panel["title"])
        axis.set_xlabel("x")
    axes[0][0].set_ylabel("density")
    twin.set_ylabel("D(x) = P(real | x)")
    handles = axes[0][0].get_legend_handles_labels()
    figure.legend(*[a + b for a, b in zip(handles, twin.get_legend_handles_labels(), strict=True)],
                  loc="upper center", ncol=3, bbox_to_anchor=(0.5, 1.08))
    figure.tight_layout()
    return figure


def plot_points_2d(panels: Sequence[tuple[str, torch.Tensor]], centers: torch.Tensor | None = None,
                   limit: float = 3.0, columns: int | None = None, size: float = 2.8) -> Figure:
    """Scatter plots of 2-D samples, one panel per (title, samples), with the true modes as crosses; panels
    fill rows of ``columns`` (default: one row), each ``size`` inches wide."""
    columns = columns or len(panels)
    if columns < 1 or not panels:
        raise ValueError(f"need at least one panel and one column, got {len(panels)} panels, columns={columns}")
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, (size + 0.1) * rows), squeeze=False)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for axis, (title, points) in zip(axes.flat, panels, strict=False):
        points = points.detach().cpu()
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="tab:orange")
        if centers is not None:
            axis.scatter(centers[:, 0], centers[:, 1], marker="x", color="tab:blue", s=30)
        axis.set_xlim(-limit, limit)
        axis.set_ylim(-limit, limit)
        axis.set_aspect("equal")
        axis.set_title(title, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure


def plot_mode_shares(panels: Sequence[tuple[str, Sequence[int], torch.Tensor]], columns: int | None = None) -> Figure:
    """One heat map per (title, steps, shares): ``shares`` is T×modes (each snapshot's share of samples per mode,
    :meth:`gancourse.toys.GaussianRing.mode_shares`), drawn with time to the right and one row per mode, on one
    colour scale for every panel; a collapse is one or a few bright rows that stay, a hop brightness leaving a row."""
    columns = columns or len(panels)
    if columns < 1 or not panels:
        raise ValueError(f"need at least one panel and one column, got {len(panels)} panels, columns={columns}")
    for title, steps, shares in panels:
        if shares.dim() != 2 or len(steps) != shares.shape[0]:
            raise ValueError(f"{title}: shares must be T×modes with one row per step, got {tuple(shares.shape)} "
                             f"for {len(steps)} steps")
    rows = -(-len(panels) // columns)
    top = max(float(shares.max()) for _, _, shares in panels) or 1.0
    figure, axes = plt.subplots(rows, columns, figsize=(3.0 * columns + 0.8, 2.4 * rows), squeeze=False)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for index, (axis, (title, steps, shares)) in enumerate(zip(axes.flat, panels, strict=False)):
        image = axis.imshow(shares.T.cpu().numpy(), aspect="auto", origin="lower", cmap="magma", vmin=0, vmax=top,
                            interpolation="nearest")
        ticks = sorted({0, len(steps) // 2, len(steps) - 1})
        axis.set_xticks(ticks, [f"{steps[t]:,}" for t in ticks], fontsize=8)
        axis.set_yticks(range(shares.shape[1]))
        axis.tick_params(axis="y", labelsize=7)
        axis.set(title=title, xlabel="generator step", ylabel="mode" if index % columns == 0 else "")
    figure.colorbar(image, ax=axes.ravel().tolist(), label="share of the samples", shrink=0.9)
    return figure


def plot_epsilon_panel(model: torch.nn.Module, image: torch.Tensor, label: int, class_names: Sequence[str],
                       epsilons: Sequence[float]) -> Figure:
    """One row per ε: the FGSM perturbation (white = 0, red = brighter, blue = darker, on the row's own ±ε
    scale, with a colour bar), the adversarial image, and the model's class
    probabilities on it (true class green, predicted class red when wrong). The static equivalent of
    :func:`gancourse.widgets.epsilon_slider`."""
    from gancourse.attacks import FGSM
    from gancourse.networks import frozen_eval

    if image.dim() != 3:
        raise ValueError(f"image must be C×H×W, got shape {tuple(image.shape)}")
    figure, axes = plt.subplots(len(epsilons), 3, figsize=(8, 2.1 * len(epsilons)), squeeze=False,
                                gridspec_kw={"width_ratios": [1, 1, 2.4]})
    x, y = image.unsqueeze(0), torch.tensor([label], device=image.device)
    for row, eps in zip(axes, epsilons, strict=True):
        adversarial = FGSM(model, eps)(x, y) if eps > 0 else x
        with torch.no_grad(), frozen_eval(model):                   # the caller's model mode is kept
            probabilities = model(adversarial).softmax(1)[0].cpu()
        predicted = int(probabilities.argmax())
        delta = (adversarial - x)[0, 0].cpu().numpy()
        scale = max(eps, 1e-3)
        shown = row[0].imshow(delta, cmap="RdBu_r", vmin=-scale, vmax=scale)
        figure.colorbar(shown, ax=row[0], fraction=0.046, pad=0.04).set_label("pixel change", fontsize=8)
        row[0].set_title(f"perturbation, ε = {eps:g}", fontsize=9)
        row[1].imshow(adversarial[0, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        row[1].set_title(f"model says: {class_names[predicted]}", fontsize=9,
                         color="tab:green" if predicted == label else "tab:red")
        colors = ["tab:green" if k == label else "tab:red" if k == predicted else "tab:gray"
                  for k in range(len(class_names))]
        row[2].barh(range(len(class_names)), probabilities.numpy(), color=colors)
        row[2].set_yticks(range(len(class_names)), labels=list(class_names), fontsize=8)
        row[2].set_xlim(0, 1)
        row[2].invert_yaxis()
        for axis in row[:2]:
            axis.set_xticks([])
            axis.set_yticks([])
    axes[-1][2].set_xlabel("probability")
    figure.tight_layout()
    return figure


def plot_interpolations(generator: torch.nn.Module, starts: torch.Tensor, ends: torch.Tensor,
                        ts: Sequence[float]) -> Figure:
    """For each pair (z₀, z₁) two rows: G(slerp(z₀, z₁; t)) and G(lerp(z₀, z₁; t)) = G((1 − t)z₀ + t z₁)
    for every t in ``ts``. The static twin of :func:`gancourse.widgets.latent_interpolation`."""
    from gancourse.evaluate import slerp

    if starts.shape != ends.shape or starts.dim() != 2:
        raise ValueError(f"starts and ends must be N×latent of one shape, got {tuple(starts.shape)}, {tuple(ends.shape)}")
    if not ts or min(ts) < 0 or max(ts) > 1:
        raise ValueError(f"ts must be a non-empty list of numbers in [0, 1], got {list(ts)}")
    t = torch.tensor(list(ts), dtype=starts.dtype, device=starts.device)[:, None]
    rows, labels = [], []
    with torch.no_grad():
        for a, b in zip(starts, ends, strict=True):
            a_rep, b_rep = a.expand(len(t), -1), b.expand(len(t), -1)
            rows += [generator(slerp(a_rep, b_rep, t)), generator((1 - t) * a_rep + t * b_rep)]
            labels += ["slerp", "lerp"]
    figure = show_images(torch.cat(rows).cpu(), nrow=len(t), row_labels=labels, scale=0.7,
                         title="t = " + ", ".join(f"{value:.2g}" for value in ts))
    return figure


def plot_projection_explorer(generator: torch.nn.Module, latent_dim: int, classifier: torch.nn.Module,
                             clean: torch.Tensor, adversarial: torch.Tensor, class_names: Sequence[str],
                             settings: Sequence[tuple[int, int]], seed: int = 0) -> Figure:
    """One row per image pair, one column pair per (L, R) in ``settings``: the clean and the adversarial
    input, then their Defense-GAN projections G(z*) titled with the reconstruction error and the class the
    classifier sees. The static twin of :func:`gancourse.widgets.defense_gan_explorer`."""
    from gancourse.defenses.defense_gan import initial_latents, project
    from gancourse.evaluate import predict

    if clean.shape != adversarial.shape:
        raise ValueError(f"clean and adversarial batches differ in shape: {tuple(clean.shape)} vs "
                         f"{tuple(adversarial.shape)}")
    columns = 2 + 2 * len(settings)
    figure, axes = plt.subplots(len(clean), columns, figsize=(1.45 * columns, 1.7 * len(clean)), squeeze=False)
    panels = [("clean", clean, None), ("adversarial", adversarial, None)]
    for steps, restarts in settings:
        starts = initial_latents(len(clean), restarts, latent_dim, generator=torch.Generator().manual_seed(seed))
        for name, images in (("clean", clean), ("adv.", adversarial)):
            projection = project(generator, images, starts.to(images.device), steps=steps)
            panels.append((f"{name} L={steps} R={restarts}", projection.reconstructions, projection.errors))
    for column, (title, images, errors) in enumerate(panels):
        predicted = predict(classifier, images)
        for row in range(len(clean)):
            axis = axes[row, column]
            axis.imshow(images[row, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            error = f"\ne = {errors[row]:.4f}" if errors is not None else ""
            axis.set_title(f"{title}\n→ {class_names[int(predicted[row])]}{error}", fontsize=7)
            axis.axis("off")
    figure.tight_layout()
    return figure
