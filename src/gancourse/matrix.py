"""The robustness matrix: every attack against every defense, on the same model and test images.

A :class:`Defense` says how it classifies (and whether it rejects), which network an attacker that ignores
the defense differentiates (``oblivious_target``: the bare classifier for a preprocessor or a detector, the
model itself for adversarial training), and which one an attacker that knows it differentiates
(``adaptive_target``: the whole pipeline, with BPDA where the pipeline has no useful gradient);
:meth:`Defense.around` builds one from a classifier, a preprocessing defense and a detecting defense
(:mod:`gancourse.defenses.base`). An
:class:`AttackSpec` crafts adversarial images against a network; ``kind`` picks the network:

    oblivious  x_adv = attack(defense.oblivious_target)      (white-box on what the defense exposes)
    adaptive   x_adv = attack(defense)                       (knows the defense: its adaptive_target, and
                                                              its decision, Defense.fooled, to keep successes)
    fixed      x_adv = attack(None), once for every defense  (black-box transfer, generators trained beforehand)

Each cell reports, over the n images: ``accuracy`` (accepted and correctly classified), ``rejected``
(flagged by a detecting defense) and ``robust`` = accuracy + rejected (the attack failed), with the cost
per image of crafting the attack (once per attacked network: defenses that expose the same network share the
adversarial images, and the first one pays) and of running the defense. The clean row is the defense's price.
After a defense's attacks comes its :data:`WORST_CASE` row: an image counts as robust there only if it survived
*every* ε-bounded attack (minimum-norm attacks, which succeed whenever they can, are judged by the distance they
need, never by accuracy) — the defense's robust accuracy (Carlini et al. 2019). :func:`red_flags` lists the
signs of a failed evaluation the cells show.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.defenses.base import Preprocessor, ThresholdDetector
from gancourse.evaluate import predict, wilson_interval
from gancourse.matrix_cache import CellCache
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
        randomised: the decision draws fresh randomness on every call (an attacker averages over it: EOT).
        detects: the defense can reject an input (its adaptive target then has a "rejected" logit).
        sample: the defense is scored on the first ``sample`` of the matrix's images (None: all of them), for
            defenses whose every call is costly (Defense-GAN projects each image L·R times).
        adaptive_sample: the adaptive rows use the first ``adaptive_sample`` images (None: ``sample``).
    """

    name: str
    classify: Callable[[torch.Tensor], torch.Tensor]
    oblivious_target: nn.Module
    adaptive_target: nn.Module
    randomised: bool = False
    detects: bool = False
    sample: int | None = None
    adaptive_sample: int | None = None

    def __post_init__(self) -> None:
        for field_name in ("sample", "adaptive_sample"):
            value = getattr(self, field_name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"defense {self.name!r}: {field_name} must be a positive number of images or None, "
                                 f"got {value!r}")
        if self.sample is not None and self.adaptive_sample is not None and self.adaptive_sample > self.sample:
            raise ValueError(f"defense {self.name!r}: adaptive_sample ({self.adaptive_sample}) cannot exceed sample "
                             f"({self.sample}); the adaptive rows use a prefix of the scored images")

    def sample_size(self, available: int, kind: str) -> int:
        """How many of the ``available`` images a row of ``kind`` scores this defense on."""
        limit = self.adaptive_sample if kind == "adaptive" and self.adaptive_sample is not None else self.sample
        return available if limit is None else min(limit, available)

    @classmethod
    def around(cls, name: str, classifier: nn.Module, *, preprocessor: Preprocessor | None = None,
               detector: ThresholdDetector | None = None, adaptive_target: nn.Module | None = None,
               sample: int | None = None, adaptive_sample: int | None = None) -> Defense:
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
        return cls(name, classify, classifier, adaptive_target,
                   randomised=preprocessor is not None and preprocessor.randomised, detects=detector is not None,
                   sample=sample, adaptive_sample=adaptive_sample)

    def fooled(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """True where the defense accepts the image and classifies it wrongly (what an attack wants)."""
        predicted = self.classify(images)
        return (predicted != labels.to(predicted.device)) & (predicted != REJECTED)


@dataclass(frozen=True)
class AttackSpec:
    """An attack row: ``make(model)`` returns ``craft(images, labels) → adversarial images``; for a
    ``fixed`` attack ``make`` is called once with None, for an ``adaptive`` one with the :class:`Defense`, and
    may return None where the attack does not apply to that defense (the row then has no cell there).
    ``bounded``: the attack keeps to the matrix's ℓ∞ budget (False for minimum-norm attacks such as DeepFool
    and C&W, which succeed whenever they can and are judged by the size of their perturbation). ``sample``:
    the row uses at most the first ``sample`` images (None: as many as the defense is scored on), for costly
    attacks whose measure — a mean distance — needs fewer images than a rate. ``settings``: what ``make`` does
    that its name does not say (numbers that are JSON values), part of the key of the row's cached cells
    (:class:`gancourse.matrix_cache.CellCache`), so that a changed setting recomputes them."""

    name: str
    kind: str
    make: Callable[[Any], Craft]
    bounded: bool = True
    sample: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"attack {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.sample is not None and (not isinstance(self.sample, int) or self.sample < 1):
            raise ValueError(f"attack {self.name!r}: sample must be a positive number of images or None, "
                             f"got {self.sample!r}")


WORST_CASE = "worst case (ε-bounded)"
"""The row that counts an image as robust only if it survived every ε-bounded attack of its defense."""


@dataclass(frozen=True)
class Cell:
    """One (attack, defense) result; fractions of the ``n`` evaluated images, times in ms per image, the mean
    ℓ2 norm of the perturbation (0 for the clean and worst-case rows), the attack's ``kind`` (``"clean"`` and
    ``"worst"`` for those rows) and whether it keeps to the ε budget."""

    attack: str
    defense: str
    accuracy: float
    rejected: float
    robust: float
    attack_ms: float
    defense_ms: float
    mean_l2: float
    n: int
    kind: str
    bounded: bool

    def robust_interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of :attr:`robust` over the cell's n images (:func:`gancourse.evaluate.wilson_interval`)."""
        return wilson_interval(round(self.robust * self.n), self.n)


def score(defense: Defense, images: torch.Tensor, labels: torch.Tensor,
          ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(correct and accepted, rejected) per image, and the defense's ms per image, of ``defense`` on ``images``."""
    started = time.perf_counter()
    with torch.no_grad():
        predicted = defense.classify(images)
    milliseconds = 1000 * (time.perf_counter() - started) / len(images)
    return (predicted == labels.to(predicted.device)).cpu(), (predicted == REJECTED).cpu(), milliseconds


def _cell(attack: AttackSpec | str, defense: str, correct: torch.Tensor, rejected: torch.Tensor, attack_ms: float,
          defense_ms: float, mean_l2: float) -> Cell:
    name, kind, bounded = ((attack.name, attack.kind, attack.bounded) if isinstance(attack, AttackSpec)
                           else (attack, attack, True))
    accuracy, refused = correct.float().mean().item(), rejected.float().mean().item()
    robust = accuracy if name == "clean" else accuracy + refused   # rejecting a clean image is a false positive
    return Cell(name, defense, accuracy, refused, robust, attack_ms, defense_ms, mean_l2, len(correct),
                "worst" if name == WORST_CASE else kind, bounded)


def run_matrix(attacks: list[AttackSpec], defenses: list[Defense], images: torch.Tensor, labels: torch.Tensor,
               progress: Callable[[str], None] | None = None, cache: CellCache | None = None,
               on_adversarial: Callable[[str, str, torch.Tensor], None] | None = None) -> list[Cell]:
    """Every attack of ``attacks`` (plus a ``clean`` row first) against every defense of ``defenses``.

    With a ``cache`` (:class:`gancourse.matrix_cache.CellCache`), each finished cell is saved as it is
    computed and a cell already there is read instead of computed, so an interrupted run resumes.
    ``on_adversarial(attack, defense, images)`` is called with every attack cell's adversarial images, computed
    or read from the cache (e.g. to score a randomised defense again: :func:`robust_calls`)."""
    check_images(images)
    check_labels(labels, len(images))
    if not attacks or not defenses:
        raise ValueError("the matrix needs at least one attack and one defense")
    for group, items in (("attack", attacks), ("defense", defenses)):
        names = [item.name for item in items]
        if len(set(names)) != len(names) or "clean" in names:
            raise ValueError(f"{group} names must be unique and not 'clean', got {names}")
    cells = []
    crafted: dict[tuple[str, int], tuple[torch.Tensor, float] | None] = {}   # the same target is attacked once

    def craft(attack: AttackSpec, target: nn.Module | Defense | None, count: int,
              ) -> tuple[torch.Tensor, float] | None:
        """Adversarial versions of the first ``count`` images and the seconds per image, or None where the
        attack does not apply. Attacks work image by image, so a target crafted for more images is sliced."""
        key = (attack.name, id(target))
        if key not in crafted or (crafted[key] is not None and len(crafted[key][0]) < count):
            craft_fn = attack.make(target)
            if craft_fn is None:
                crafted[key] = None
            else:
                started = time.perf_counter()
                adversarial = craft_fn(images[:count], labels[:count]).detach()
                crafted[key] = (adversarial, (time.perf_counter() - started) / count)
        if crafted[key] is None:
            return None
        adversarial, seconds = crafted[key]
        return adversarial[:count], seconds

    def evaluate(attack: AttackSpec | None, defense: Defense, count: int) -> dict[str, Any] | None:
        """The cell of ``attack`` (None: the clean row) against ``defense`` on the first ``count`` images: from
        the cache, else computed (and cached); None where the attack does not apply."""
        name = "clean" if attack is None else attack.name
        target = None if attack is None else {"fixed": None, "oblivious": defense.oblivious_target,
                                              "adaptive": defense}[attack.kind]
        key = None
        if cache is not None:
            key = cache.key(name, defense.name, [defense.oblivious_target, defense.adaptive_target],
                            images[:count], labels[:count], settings=None if attack is None else attack.settings)
            entry = cache.load(name, defense.name, key)
            if entry is not None:
                shared = (name, id(target))
                if entry["adversarial"] is not None and (shared not in crafted or crafted[shared] is None
                                                         or len(crafted[shared][0]) < count):
                    crafted[shared] = (entry["adversarial"].to(images.device), entry["seconds"])
                return entry
        if attack is None:
            adversarial, seconds = None, 0.0
            correct, rejected, defense_ms = score(defense, images[:count], labels[:count])
        else:
            result = craft(attack, target, count)
            if result is None:
                return None
            adversarial, seconds = result
            correct, rejected, defense_ms = score(defense, adversarial, labels[:count])
        entry = {"adversarial": adversarial, "seconds": seconds, "correct": correct, "rejected": rejected,
                 "defense_ms": defense_ms}
        if cache is not None:
            cache.save(name, defense.name, key, entry)
        return entry

    for defense in defenses:
        clean = evaluate(None, defense, defense.sample_size(len(images), "clean"))
        cells.append(_cell("clean", defense.name, clean["correct"], clean["rejected"], 0.0, clean["defense_ms"], 0.0))
        bounded_rows = [(clean["correct"], clean["rejected"])]  # robust in the worst case only if every bounded attack failed
        bounded_ms = 0.0
        for attack in attacks:
            if progress is not None:
                progress(f"{attack.name} vs {defense.name}")
            count = defense.sample_size(len(images), attack.kind)
            count = count if attack.sample is None else min(count, attack.sample)
            entry = evaluate(attack, defense, count)
            if entry is None:
                continue
            if on_adversarial is not None:
                on_adversarial(attack.name, defense.name, entry["adversarial"])
            mean_l2 = (entry["adversarial"].to(images.device) - images[:count]).flatten(1).norm(dim=1).mean().item()
            cells.append(_cell(attack, defense.name, entry["correct"], entry["rejected"], 1000 * entry["seconds"],
                               entry["defense_ms"], mean_l2))
            if attack.bounded:
                bounded_rows.append((entry["correct"], entry["rejected"]))
                bounded_ms += 1000 * entry["seconds"]
        cells.append(_worst_case(defense.name, bounded_rows, bounded_ms))
    return cells


def robust_calls(defense: Defense, images: torch.Tensor, labels: torch.Tensor, calls: int,
                 attacked: bool = True) -> torch.Tensor:
    """``calls`` × N booleans: whether each of ``calls`` independent calls of ``defense`` leaves each image robust
    (accepted and correct, or — for ``attacked`` images — rejected; a clean image must be classified correctly).

    A matrix cell scores one call, a single draw of a randomised defense's decision. Per image the mean over
    calls estimates the probability p_i of surviving, and the expected robust accuracy is (1/N) Σ_i p_i; the
    per-image differences of p_i between two rows give a paired comparison far less blurred by the defense's own
    randomness (what remains lies inside an interval over the images)."""
    check_images(images)
    check_labels(labels, len(images))
    if not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be a positive number of calls, got {calls!r}")
    answers = []
    for _ in range(calls):
        with torch.no_grad():
            predicted = defense.classify(images)
        survived = predicted == labels.to(predicted.device)
        answers.append((survived | (predicted == REJECTED) if attacked else survived).cpu())
    return torch.stack(answers)


def _worst_case(defense: str, rows: list[tuple[torch.Tensor, torch.Tensor]], attack_ms: float) -> Cell:
    """The :data:`WORST_CASE` cell over the (correct, rejected) rows, on the images every row scored (the first
    ones: rows with a smaller sample score a prefix)."""
    common = min(len(correct) for correct, _ in rows)
    survived_all = torch.ones(common, dtype=torch.bool)
    accepted_all = torch.ones(common, dtype=torch.bool)
    for index, (correct, rejected) in enumerate(rows):
        survived_all &= (correct | rejected)[:common] if index else correct[:common]
        accepted_all &= correct[:common] if index else ~rejected[:common]
    return _cell(WORST_CASE, defense, survived_all & accepted_all, survived_all & ~accepted_all, attack_ms, 0.0, 0.0)


def _percent(cell: Cell) -> str:
    low, high = cell.robust_interval()
    return f"{cell.robust:.0%} [{low:.0%}, {high:.0%}] of {cell.n}"


KIND_WORDS = {"oblivious": "oblivious", "adaptive": "adaptive", "fixed": "black-box"}
"""How a flag names each kind of row (a row whose name already says it is not told twice)."""


def _row(cell: Cell) -> str:
    word = KIND_WORDS.get(cell.kind, cell.kind)
    return cell.attack if word in cell.attack.lower() else f"{cell.attack} ({word})"


def red_flags(cells: list[Cell], single_step: str | None = None, iterative: str | None = None,
              purifying: Collection[str] = ()) -> list[str]:
    """The signs of a failing evaluation in ``cells`` (Carlini et al. 2019, §5), one sentence each:

    - an ε-bounded oblivious or black-box attack leaves a defense *less* robust than its adaptive attack (the
      attack that knows the defense should be the strongest; a weaker one has failed, e.g. at a masked gradient);
    - a black-box or transfer attack beats every white-box one (the white-box gradients are masked);
    - with the names of a ``single_step`` row and an ``iterative`` row of the same attack (e.g. FGSM and PGD):
      the iterative attack leaves a defense at least as robust as the single step. Against the defended model
      itself more steps should never do worse, so its gradient is failing. Against a defense named in
      ``purifying`` (a preprocessor or detector in front of the classifier, which oblivious rows do not see) the
      iterative attack's perturbation, fitted to the bare classifier, may survive the defense less well than
      FGSM's coarser one: a limit of the oblivious threat model, which the adaptive row removes.

    Each says whether the two rates' 95% Wilson intervals separate (else the gap may be sampling noise)."""
    if (single_step is None) != (iterative is None):
        raise ValueError("name both the single-step and the iterative row (or neither)")
    flags = []
    for defense in dict.fromkeys(cell.defense for cell in cells):
        named = {cell.attack: cell for cell in cells if cell.defense == defense}
        if single_step in named and iterative in named and named[iterative].robust >= named[single_step].robust:
            why = (f"the oblivious {iterative} fits its perturbation to the bare classifier, which {defense} may "
                   f"undo more easily than {single_step}'s coarser one: a limit of the oblivious threat model, not "
                   f"evidence of robustness (the adaptive row attacks the whole defense)"
                   if defense in purifying and named[iterative].kind == "oblivious" else
                   "more steps of the same attack do not help, so the gradient they follow is failing")
            flags.append(f"{defense}: the iterative {iterative} leaves {_percent(named[iterative])} robust, the "
                         f"single-step {single_step} {_percent(named[single_step])}"
                         f"{_separation(named[single_step], named[iterative])}: {why}")
        rows = [cell for cell in cells if cell.defense == defense and cell.bounded and cell.kind in KINDS]
        adaptive = [cell for cell in rows if cell.kind == "adaptive"]
        white_box = [cell for cell in rows if cell.kind != "fixed"]
        for strongest in adaptive:
            for other in rows:
                if other.kind != "adaptive" and other.robust < strongest.robust:
                    flags.append(f"{defense}: {_row(other)} leaves {_percent(other)} robust, {_row(strongest)} "
                                 f"{_percent(strongest)}: the attack that knows the defense is not the "
                                 f"strongest{_separation(other, strongest)}")
        if white_box:
            best_white = min(white_box, key=lambda cell: cell.robust)
            for other in rows:
                if other.kind == "fixed" and other.robust < best_white.robust:
                    flags.append(f"{defense}: {_row(other)} leaves {_percent(other)} robust, fewer "
                                 f"than the strongest white-box attack ({best_white.attack}, {_percent(best_white)}): "
                                 f"white-box gradients may be masked{_separation(other, best_white)}")
    return flags


SWEEP_FLOOR = 0.05
"""An ε sweep's strongest budget should leave (the lower end of the 95% interval of) at most this robust."""


def epsilon_sweep(defense: Defense, attack: Callable[[float], AttackSpec], epsilons: list[float],
                  images: torch.Tensor, labels: torch.Tensor, cache: CellCache | None = None) -> list[Cell]:
    """``attack(ε)`` against ``defense`` at each budget of ``epsilons`` (increasing), one cell per budget with
    ``attack`` named ``"<name> ε=<ε>"`` (kept in ``cache`` as :func:`run_matrix` keeps its cells). A sound evaluation sees robustness fall towards 0 as ε grows
    (:func:`sweep_flags`); with ε = 0.5 an ℓ∞ attacker may turn every image into a uniform grey."""
    if not epsilons or list(epsilons) != sorted(set(epsilons)) or epsilons[0] < 0:
        raise ValueError(f"epsilons must be distinct, non-negative and increasing, got {epsilons}")
    cells = []
    for eps in epsilons:
        spec = attack(eps)
        renamed = replace(spec, name=f"{spec.name} ε={eps:g}")
        cells += [cell for cell in run_matrix([renamed], [defense], images, labels, cache=cache) if cell.attack == renamed.name]
    return cells


def sweep_flags(sweep: list[Cell], floor: float = SWEEP_FLOOR) -> list[str]:
    """The red flags of an :func:`epsilon_sweep` (budgets increasing):

    - the largest budget leaves more than ``floor`` robust (the lower end of its 95% interval above it): the
      attack, not the defense, has stopped;
    - robustness *rises* from one budget to a larger one (the larger budget's interval wholly above the smaller
      one's): impossible for a defense, since every perturbation of the smaller ball is allowed in the larger,
      so the attack is failing at the larger budget."""
    flags = []
    for smaller, larger in zip(sweep[:-1], sweep[1:], strict=True):
        if larger.robust_interval()[0] > smaller.robust_interval()[1]:
            flags.append(f"{larger.defense}: robustness rises from {_percent(smaller)} under {smaller.attack} to "
                         f"{_percent(larger)} under {larger.attack}: a larger budget allows every smaller "
                         f"perturbation, so the attack is failing there")
    last = sweep[-1]
    if last.robust_interval()[0] > floor:
        flags.append(f"{last.defense}: {last.attack} still leaves {_percent(last)} robust: robustness should fall "
                     f"towards 0 as ε grows; an attack that cannot get there is failing (e.g. at a masked gradient)")
    return flags


def _separation(weaker: Cell, stronger: Cell) -> str:
    separate = weaker.robust_interval()[1] < stronger.robust_interval()[0]
    return " (the intervals separate)" if separate else " (the intervals overlap: possibly sampling noise)"


def robust_table(cells: list[Cell]) -> tuple[list[str], list[str], torch.Tensor]:
    """(attack names, defense names, robust fractions as an attacks × defenses tensor; NaN where an attack does
    not apply to a defense)."""
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
    lines += [f"{attack[:24]:24s}" + "".join(f"{'n/a':>12s}" if value != value else f"{value:12.1%}"
                                             for value in row.tolist())
              for attack, row in zip(attacks, table, strict=True)]
    return "\n".join(lines)


def plot_matrix(cells: list[Cell], title: str = "robust accuracy (correct or rejected)"):
    """A heatmap of :func:`robust_table` with the values written in the cells; returns the figure. Rows of
    attacks without an ε bound are drawn grey (their "robust" fraction is not a robustness: they are judged by
    the distance they need), and a line separates each group of rows of one kind (clean, oblivious, made once,
    adaptive, worst case)."""
    import matplotlib.pyplot as plt

    attacks, defenses, table = robust_table(cells)
    kind = {cell.attack: cell.kind for cell in cells}
    unbounded = {cell.attack for cell in cells if not cell.bounded}
    coloured = table.clone()
    for row, attack in enumerate(attacks):
        if attack in unbounded:
            coloured[row] = float("nan")
    colours = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    figure, axis = plt.subplots(figsize=(1.3 * len(defenses) + 2.5, 0.42 * len(attacks) + 1.5))
    image = axis.imshow(coloured.numpy(), cmap=colours, vmin=0, vmax=1, aspect="auto")
    axis.set_xticks(range(len(defenses)), defenses, rotation=30, ha="right")
    axis.set_yticks(range(len(attacks)), [f"{a} (no ε bound)" if a in unbounded else a for a in attacks])
    for i, attack in enumerate(attacks):
        for j in range(len(defenses)):
            value = table[i, j].item()
            text = "n/a" if value != value else f"{value:.0%}"
            dark = attack not in unbounded and value == value and value < 0.6    # white on viridis' dark end
            axis.text(j, i, text, ha="center", va="center", fontsize=8,
                      color="white" if dark else "black", style="italic" if attack in unbounded else "normal")
        if i and kind[attack] != kind[attacks[i - 1]]:
            axis.axhline(i - 0.5, color="black", linewidth=1.2)
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
