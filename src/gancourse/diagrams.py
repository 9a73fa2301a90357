"""Architecture diagrams drawn from the networks themselves: run the model once on an example input, record
every layer it calls and the shape that layer outputs, and draw the list as boxes — so a diagram cannot drift
from the code it shows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from torch import nn

ELEMENTWISE = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid,
               nn.Dropout, nn.Identity)
"""Layers that keep their input's shape and act per value (or per channel): drawn inside the box of the layer
before them ("Conv 4×4/2 · BatchNorm2d · ReLU") rather than as boxes of their own."""
PADDING = (nn.ReflectionPad2d, nn.ZeroPad2d, nn.ReplicationPad2d)
"""Padding layers: drawn inside the box of the layer after them ("ReflectionPad2d · Conv2d 7×7/1")."""


@dataclass
class Box:
    """One box of a diagram: what the layer is, and the shape of one example's output (batch dimension dropped)."""

    label: str
    shape: tuple[int, ...] | None


def _describe(module: nn.Module, atomic: tuple[type, ...]) -> str:
    name = type(module).__name__
    if isinstance(module, atomic):
        summary = (type(module).__doc__ or "").strip().splitlines()[:1]
        if summary and len(summary[0]) <= 60:                  # the class's own one-line formula
            return f"{name}: {summary[0].rstrip('.')}"
        return f"{name} [{', '.join(type(child).__name__ for child in module.children())}]"
    kernel, stride = getattr(module, "kernel_size", None), getattr(module, "stride", None)
    if kernel is not None and stride is not None:
        kernel = kernel[0] if isinstance(kernel, tuple) else kernel
        stride = stride[0] if isinstance(stride, tuple) else stride
        return f"{name} {kernel}×{kernel}/{stride}"
    if isinstance(module, nn.Linear):
        return f"{name} {module.in_features}→{module.out_features}"
    return name


def layer_boxes(model: nn.Module, run: Callable[[], object], atomic: Sequence[type] = ()) -> list[Box]:
    """The boxes of ``model``'s diagram: every leaf module (or module of an ``atomic`` type, drawn whole) in the
    order ``run()`` calls them, each with its output shape; :data:`ELEMENTWISE` layers join the box before them
    and :data:`PADDING` layers the box after them; an atomic module's box shows its class docstring's first
    line when that is short (a formula such as "x + IN(conv(ReLU(IN(conv(x)))))"), else its children's types.

    ``run`` calls the model on an example input (``lambda: G(torch.randn(1, 100))``); it runs under
    ``torch.no_grad`` with the model in eval mode, which is restored afterwards.
    """
    atomic = tuple(atomic)
    drawn = [module for module in model.modules()
             if isinstance(module, atomic) or (not list(module.children()) and module is not model)]
    inside_atomic = {id(sub) for module in drawn if isinstance(module, atomic) for sub in module.modules()
                     if sub is not module}
    drawn = [module for module in drawn if id(module) not in inside_atomic] or [model]
    calls: list[tuple[nn.Module, object]] = []
    hooks = [module.register_forward_hook(lambda module, _inputs, output: calls.append((module, output)))
             for module in drawn]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            run()
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    if not calls:
        raise ValueError("run() never called the model's layers: pass a function that runs this model, "
                         "e.g. lambda: model(example)")
    boxes: list[Box] = []
    padding = ""
    for module, output in calls:
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None
        if isinstance(module, PADDING):
            padding += f"{type(module).__name__} · "
        elif isinstance(module, ELEMENTWISE) and boxes and not padding:
            boxes[-1].label += f" · {type(module).__name__}"
            boxes[-1].shape = shape
        else:
            boxes.append(Box(padding + _describe(module, atomic), shape))
            padding = ""
    if padding:
        boxes.append(Box(padding.removesuffix(" · "), shape))
    return boxes


def draw_boxes(boxes: Sequence[Box], axis: Axes, title: str, input_label: str | None = None,
               rows: int | None = None) -> None:
    """Draw ``boxes`` top to bottom on ``axis``, each with its output shape, joined by arrows, under an
    ``input_label`` box (e.g. "z 100" or "image 1×28×28") when given; ``rows`` fixes the vertical scale so that
    columns drawn side by side line up."""
    texts = ([input_label] if input_label else []) + [
        box.label + (f"\n→ {'×'.join(map(str, box.shape))}" if box.shape else "") for box in boxes]
    axis.set_xlim(0, 1)
    axis.set_ylim(max(rows or 0, len(texts)) - 0.4, -0.6)
    axis.axis("off")
    axis.set_title(title, fontsize=10)
    for row, text in enumerate(texts):
        is_input = bool(input_label) and row == 0
        axis.text(0.5, row, text, ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round,pad=0.35", "facecolor": "white" if is_input else "#dbe9f6",
                        "edgecolor": "grey"})
        if row:
            axis.annotate("", xy=(0.5, row - 0.3), xytext=(0.5, row - 0.7),
                          arrowprops={"arrowstyle": "->", "color": "grey"})


def plot_architectures(panels: Sequence[tuple[str, Sequence[Box], str | None]], width: float = 3.6) -> plt.Figure:
    """One column per (title, boxes, input label) panel, side by side and on one vertical scale; returns the
    figure."""
    if not panels:
        raise ValueError("give at least one (title, boxes, input label) panel")
    rows = max(len(boxes) + bool(label) for _, boxes, label in panels)
    figure, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), rows * 0.62 + 0.6), squeeze=False)
    for axis, (title, boxes, label) in zip(axes[0], panels, strict=True):
        draw_boxes(boxes, axis, title, label, rows)
    figure.tight_layout()
    return figure


def plot_two_cycles(G: nn.Module, F: nn.Module, a: torch.Tensor, b: torch.Tensor,
                    names: tuple[str, str] = ("A", "B")) -> plt.Figure:
    """CycleGAN's two cycles drawn with the networks' own outputs on one image of each domain:

        a → G(a) → F(G(a)) ≈ a   (D_B judges G(a); the cycle loss is ‖F(G(a)) − a‖₁)
        b → F(b) → G(F(b)) ≈ b   (D_A judges F(b); the cycle loss is ‖G(F(b)) − b‖₁)

    ``names`` are the two domains' names (A, B); ``a`` and ``b`` are single images (C×H×W in [0, 1]); the networks run in eval mode without gradients and
    are left in the mode they were in."""
    if a.dim() != 3 or b.dim() != 3:
        raise ValueError(f"a and b must be single images C×H×W, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    modes = G.training, F.training
    G.eval(), F.eval()
    try:
        with torch.no_grad():
            g_a = G(a.unsqueeze(0))
            f_b = F(b.unsqueeze(0))
            rows = [(a, g_a[0], F(g_a)[0], "a", "G", "F", "B", names), (b, f_b[0], G(f_b)[0], "b", "F", "G", "A",
                                                                         names[::-1])]
    finally:
        G.train(modes[0]), F.train(modes[1])
    figure, axes = plt.subplots(2, 3, figsize=(7.2, 5.2))
    for row, (start, there, back, x, first, second, judged_in, (source, target)) in enumerate(rows):
        titles = (f"{x}: a real {source}", f"{first}({x}): should look like {target}", f"{second}({first}({x})): back to {source}")
        for column, (image, title) in enumerate(zip((start, there, back), titles, strict=True)):
            axis = axes[row, column]
            axis.imshow(image.detach().cpu().permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
            axis.set_title(title, fontsize=8)
            axis.set_xticks([]), axis.set_yticks([])
        for column, label in ((0, first), (1, second)):
            axes[row, column].annotate("", xy=(1.32, 0.5), xytext=(1.02, 0.5), xycoords="axes fraction",
                                       arrowprops={"arrowstyle": "->", "lw": 1.5})
            axes[row, column].text(1.17, 0.58, label, transform=axes[row, column].transAxes, ha="center",
                                   fontsize=10, fontweight="bold")
        axes[row, 1].text(0.5, -0.12, f"D_{judged_in}: a real {target} or a fake?", transform=axes[row, 1].transAxes,
                          ha="center", fontsize=8, color="tab:red")
        loss = (back - start).abs().mean().item()
        axes[row, 2].text(0.5, -0.12, f"cycle loss ‖{second}({first}({x})) − {x}‖₁ = {loss:.3f}",
                          transform=axes[row, 2].transAxes, ha="center", fontsize=8, color="tab:blue")
    figure.tight_layout(h_pad=2.5)
    return figure
