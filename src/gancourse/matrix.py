"""The robustness matrix: every attack against every defense, on the same model and test images.

A :class:`Defense` says how it classifies (and whether it rejects), which network an attacker that ignores
the defense differentiates (``oblivious_target``: the bare classifier for a preprocessor or a detector, the
model itself for adversarial training), and which one an attacker that knows it differentiates
(``adaptive_target``: the whole pipeline, with BPDA where the pipeline has no useful gradient);
:meth:`Defense.around` builds one from a classifier, a preprocessing defense and a detecting defense
(:mod:`gancourse.defenses.base`). An
:class:`AttackSpec` crafts adversarial images against a network; ``kind`` picks the network:

    oblivious  x_adv = attack(defense.oblivious_target)      (white-box on what the defense exposes)
    adaptive   x_adv = attack(defense.adaptive_target)       (the attack that knows the defense)
    fixed      x_adv = attack(None), once for every defense  (black-box transfer, generators trained beforehand)

Each cell reports, over the images: ``accuracy`` (accepted and correctly classified), ``rejected``
(flagged by a detecting defense) and ``robust`` = accuracy + rejected (the attack failed), with the cost
per image of crafting the attack (once per attacked network: defenses that expose the same network share the
adversarial images, and the first one pays) and of running the defense. The clean row is the defense's price.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from gancourse.defenses.base import Preprocessor, ThresholdDetector
from gancourse.evaluate import predict
from gancourse.validation import check_images, check_labels

REJECTED = -1  # the label a detecting defense returns for an input it refuses to classify
Craft = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
KINDS = ("oblivious", "adaptive", "fixed")


@dataclass(frozen=True)
class Defense:
    """A defended classifier as the matrix sees it.

    Attributes:
        name: the column label.
        classify: images → predicted labels, :data:`REJECTED` where the defense refuses the input.
        oblivious_target: what a white-box attacker who ignores the defense attacks.
        adaptive_target: what an attacker who knows the defense attacks.
    """

    name: str
    classify: Callable[[torch.Tensor], torch.Tensor]
    oblivious_target: nn.Module
    adaptive_target: nn.Module

    @classmethod
    def around(cls, name: str, classifier: nn.Module, *, preprocessor: Preprocessor | None = None,
               detector: ThresholdDetector | None = None, adaptive_target: nn.Module | None = None) -> Defense:
        """The defense that puts ``preprocessor`` g in front of ``classifier`` f and rejects what ``detector``
        rejects (either may be None; with neither, the bare classifier):

            classify(x) = REJECTED if detector.rejects(x), else argmax f(g(x))

        The oblivious attacker targets f. The adaptive one targets ``adaptive_target`` if given (e.g. a
        :class:`~gancourse.defenses.detector.GuardedClassifier`, to attack the detector too), else f∘g
        with g's gradient or BPDA in its place (:meth:`~gancourse.defenses.base.Preprocessor.attackable`)."""
        pipeline = classifier if preprocessor is None else nn.Sequential(preprocessor, classifier).eval()
        if adaptive_target is None:
            adaptive_target = (classifier if preprocessor is None
                               else nn.Sequential(preprocessor.attackable(), classifier).eval())

        def classify(images: torch.Tensor) -> torch.Tensor:
            predicted = predict(pipeline, images)
            if detector is not None:
                predicted[detector.rejects(images)] = REJECTED
            return predicted
        return cls(name, classify, classifier, adaptive_target)


@dataclass(frozen=True)
class AttackSpec:
    """An attack row: ``make(model)`` returns ``craft(images, labels) → adversarial images``; for a
    ``fixed`` attack ``make`` is called once with None. ``bounded``: the attack keeps to the matrix's ℓ∞
    budget (False for minimum-norm attacks such as DeepFool and C&W, which succeed whenever they can and
    are judged by the size of their perturbation)."""

    name: str
    kind: str
    make: Callable[[nn.Module | None], Craft]
    bounded: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"attack {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


@dataclass(frozen=True)
class Cell:
    """One (attack, defense) result; fractions of the evaluated images, times in ms per image, and the mean
    ℓ2 norm of the perturbation (0 for the clean row)."""

    attack: str
    defense: str
    accuracy: float
    rejected: float
    robust: float
    attack_ms: float
    defense_ms: float
    mean_l2: float


def score(defense: Defense, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float]:
    """(accuracy, rejected, defense ms per image) of ``defense`` on ``images``."""
    started = time.perf_counter()
    with torch.no_grad():
        predicted = defense.classify(images)
    milliseconds = 1000 * (time.perf_counter() - started) / len(images)
    rejected = (predicted == REJECTED).float().mean().item()
    return (predicted == labels).float().mean().item(), rejected, milliseconds


def run_matrix(attacks: list[AttackSpec], defenses: list[Defense], images: torch.Tensor, labels: torch.Tensor,
               progress: Callable[[str], None] | None = None) -> list[Cell]:
    """Every attack of ``attacks`` (plus a ``clean`` row first) against every defense of ``defenses``."""
    check_images(images)
    check_labels(labels, len(images))
    if not attacks or not defenses:
        raise ValueError("the matrix needs at least one attack and one defense")
    for group, items in (("attack", attacks), ("defense", defenses)):
        names = [item.name for item in items]
        if len(set(names)) != len(names) or "clean" in names:
            raise ValueError(f"{group} names must be unique and not 'clean', got {names}")
    cells = []
    crafted: dict[tuple[str, int], tuple[torch.Tensor, float]] = {}   # the same target is attacked once

    def craft(attack: AttackSpec, target: nn.Module | None) -> tuple[torch.Tensor, float]:
        key = (attack.name, id(target))
        if key not in crafted:
            started = time.perf_counter()
            crafted[key] = (attack.make(target)(images, labels).detach(), time.perf_counter() - started)
        return crafted[key]

    for defense in defenses:
        accuracy, rejected, defense_ms = score(defense, images, labels)
        cells.append(Cell("clean", defense.name, accuracy, rejected, accuracy, 0.0, defense_ms, 0.0))
        for attack in attacks:
            if progress is not None:
                progress(f"{attack.name} vs {defense.name}")
            target = {"fixed": None, "oblivious": defense.oblivious_target,
                      "adaptive": defense.adaptive_target}[attack.kind]
            adversarial, seconds = craft(attack, target)
            accuracy, rejected, defense_ms = score(defense, adversarial, labels)
            mean_l2 = (adversarial - images).flatten(1).norm(dim=1).mean().item()
            cells.append(Cell(attack.name, defense.name, accuracy, rejected, accuracy + rejected,
                              1000 * seconds / len(images), defense_ms, mean_l2))
    return cells


def robust_table(cells: list[Cell]) -> tuple[list[str], list[str], torch.Tensor]:
    """(attack names, defense names, robust fractions as an attacks × defenses tensor)."""
    attacks = list(dict.fromkeys(cell.attack for cell in cells))
    defenses = list(dict.fromkeys(cell.defense for cell in cells))
    table = torch.full((len(attacks), len(defenses)), float("nan"))
    for cell in cells:
        table[attacks.index(cell.attack), defenses.index(cell.defense)] = cell.robust
    return attacks, defenses, table


def robust_table_text(cells: list[Cell]) -> str:
    """:func:`robust_table` as plain text: one line per attack, one column per defense, in percent."""
    attacks, defenses, table = robust_table(cells)
    lines = [f"{'robust accuracy':24s}" + "".join(f"{name[:11]:>12s}" for name in defenses)]
    lines += [f"{attack[:24]:24s}" + "".join(f"{value:12.1%}" for value in row.tolist())
              for attack, row in zip(attacks, table, strict=True)]
    return "\n".join(lines)


def plot_matrix(cells: list[Cell], title: str = "robust accuracy (correct or rejected)"):
    """A heatmap of :func:`robust_table` with the values written in the cells; returns the figure."""
    import matplotlib.pyplot as plt

    attacks, defenses, table = robust_table(cells)
    figure, axis = plt.subplots(figsize=(1.3 * len(defenses) + 2.5, 0.42 * len(attacks) + 1.5))
    image = axis.imshow(table.numpy(), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    axis.set_xticks(range(len(defenses)), defenses, rotation=30, ha="right")
    axis.set_yticks(range(len(attacks)), attacks)
    for i in range(len(attacks)):
        for j in range(len(defenses)):
            axis.text(j, i, f"{table[i, j]:.0%}", ha="center", va="center", fontsize=8)
    figure.colorbar(image, ax=axis, fraction=0.03)
    axis.set_title(title)
    figure.tight_layout()
    return figure


def write_matrix(cells: list[Cell], folder: str | Path, metadata: Mapping[str, object] | None = None) -> list[Path]:
    """Write ``matrix.csv`` (one row per cell), ``matrix.json`` (cells + metadata) and ``matrix.png``."""
    import matplotlib.pyplot as plt

    if not cells:
        raise ValueError("no cells to write: run_matrix needs at least one attack and one defense")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [asdict(cell) for cell in cells]
    paths = [folder / "matrix.csv", folder / "matrix.json", folder / "matrix.png"]
    with paths[0].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths[1].write_text(json.dumps({"metadata": dict(metadata or {}), "cells": rows}, indent=1))
    figure = plot_matrix(cells)
    figure.savefig(paths[2], dpi=120)
    plt.close(figure)
    return paths
