"""The robustness matrix: the runner's bookkeeping on a hand-made fixture, and the book's command end to end
on the smoke profile (every recipe trained at smoke size into a temporary store)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from torch import nn

from gancourse.attacks import FGSM, PGD
from gancourse.checkpoints import CheckpointWarning
from gancourse.cli import main
from gancourse.evaluate import predict
from gancourse.matrix import (
    REJECTED,
    WORST_CASE,
    AttackSpec,
    Cell,
    Defense,
    epsilon_sweep,
    plot_matrix,
    red_flags,
    robust_calls,
    robust_table,
    robust_table_text,
    run_matrix,
    sweep_flags,
    write_matrix,
)
from gancourse.matrix_cache import CellCache
from gancourse.robustness import AUTOATTACK_NAME, JUDGE_CALLS, adaptive_attack, run_book_matrix
from gancourse.runtime import best_device


class Counting:
    """``make`` for an attack spec that counts how often, and against what, it was asked to craft."""

    def __init__(self, craft):
        self.craft, self.targets = craft, []

    def __call__(self, model):
        self.targets.append(model)
        return self.craft(model)


@pytest.fixture
def fixture():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    other = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    images = torch.rand(12, 1, 4, 4)
    labels = predict(model, images)                                        # clean accuracy 1 for `model`

    def reject_bright(images):
        predicted = predict(model, images)
        predicted[images.flatten(1).mean(1) > 0.5] = REJECTED
        return predicted

    defenses = [Defense("none", lambda x: predict(model, x), model, model),
                Defense("detector", reject_bright, model, other),
                Defense("other", lambda x: predict(other, x), other, other)]
    return model, images, labels, defenses


def test_every_cell_is_filled_and_consistent(fixture):
    model, images, labels, defenses = fixture
    before = images.clone()
    oblivious = Counting(lambda m: FGSM(m, 0.3))
    fixed = Counting(lambda _: (lambda x, y: (x + 0.2).clamp(0, 1)))
    adaptive = Counting(lambda defense: FGSM(defense.adaptive_target, 0.3))
    attacks = [AttackSpec("FGSM", "oblivious", oblivious), AttackSpec("brighter", "fixed", fixed),
               AttackSpec("adaptive", "adaptive", adaptive)]
    cells = run_matrix(attacks, defenses, images, labels)
    attack_names, defense_names, table = robust_table(cells)
    assert attack_names == ["clean", "FGSM", "brighter", "adaptive", WORST_CASE]
    assert defense_names == ["none", "detector", "other"] and not table.isnan().any()
    assert len(oblivious.targets) == 2 and oblivious.targets[0] is model       # `none` and `detector` share f
    assert fixed.targets == [None]                                           # crafted once for all defenses
    assert adaptive.targets == defenses                                      # each defense, as itself
    for cell in cells:
        assert 0 <= cell.accuracy <= 1 and 0 <= cell.rejected <= 1 and cell.n == len(images)
        expected = cell.accuracy if cell.attack == "clean" else cell.accuracy + cell.rejected
        assert cell.robust == pytest.approx(expected)                      # a rejected clean image is a cost
        low, high = cell.robust_interval()
        assert low <= cell.robust <= high
    for defense in defense_names:
        rows = {c.attack: c for c in cells if c.defense == defense}
        assert rows[WORST_CASE].robust <= min(rows[a].robust for a in ("clean", "FGSM", "brighter", "adaptive"))
    assert all(c.mean_l2 == 0 for c in cells if c.attack == "clean")
    brighter = next(c for c in cells if c.attack == "brighter")
    assert brighter.mean_l2 == pytest.approx((images + 0.2).clamp(0, 1).sub(images).flatten(1).norm(dim=1).mean().item())
    clean_none = next(c for c in cells if c.attack == "clean" and c.defense == "none")
    assert clean_none.accuracy == 1.0 and clean_none.rejected == 0.0
    detector_rows = [c for c in cells if c.defense == "detector" and c.attack == "brighter"]
    assert detector_rows[0].rejected > 0                                     # brighter images get rejected
    assert torch.equal(images, before)


def test_a_cached_matrix_resumes_without_crafting_again_and_recomputes_what_changed(fixture, tmp_path):
    model, images, labels, defenses = fixture
    oblivious = Counting(lambda m: FGSM(m, 0.3))
    adaptive = Counting(lambda defense: FGSM(defense.adaptive_target, 0.3))
    attacks = [AttackSpec("FGSM", "oblivious", oblivious), AttackSpec("adaptive", "adaptive", adaptive)]
    cache = CellCache(tmp_path / "cells")
    first = run_matrix(attacks, defenses, images, labels, cache=cache)
    assert len(list((tmp_path / "cells").glob("*.pt"))) == 3 * len(defenses)   # clean, FGSM, adaptive each
    resumed = run_matrix(attacks, defenses, images, labels, cache=cache)
    same_fields = [(c.attack, c.defense, c.accuracy, c.rejected, c.robust, c.attack_ms, c.mean_l2, c.n) for c in first]
    assert same_fields == [(c.attack, c.defense, c.accuracy, c.rejected, c.robust, c.attack_ms, c.mean_l2, c.n)
                           for c in resumed]
    assert len(oblivious.targets) == 2 and len(adaptive.targets) == 3          # nothing crafted on the rerun
    assert (cache.written, cache.read) == (3 * len(defenses), 3 * len(defenses))
    with torch.no_grad():
        defenses[2].oblivious_target[1].bias.add_(1.0)                         # "other" retrained: its cells go stale
    run_matrix(attacks, defenses, images, labels, cache=cache)
    assert len(oblivious.targets) == 3 and adaptive.targets[-1] is defenses[2]
    next((tmp_path / "cells").glob("FGSM__none__*.pt")).write_bytes(b"not a checkpoint")
    with pytest.warns(CheckpointWarning, match="recomputing FGSM vs none"):
        run_matrix(attacks, defenses, images, labels, cache=cache)
    assert oblivious.targets[-1] is model and len(oblivious.targets) == 4      # shared by "detector" again
    run_matrix([AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3))], defenses[:1], images[:5], labels[:5],
               cache=cache)                                                    # the same names on a prefix
    assert len(list((tmp_path / "cells").glob("clean__none__*.pt"))) == 2      # get files of their own
    crafted = len(adaptive.targets)
    for settings in ({"votes": 5}, {"votes": 5}, {"votes": 7}):                  # a row's named settings key it
        run_matrix([AttackSpec("adaptive", "adaptive", adaptive, settings=settings)], defenses[:1], images, labels,
                   cache=cache)
    assert len(adaptive.targets) == crafted + 2                                  # new, read, new again
    with pytest.raises(ValueError, match="must be JSON values"):
        run_matrix([AttackSpec("adaptive", "adaptive", adaptive, settings={"model": model})], defenses[:1], images,
                   labels, cache=cache)


def test_every_attack_cells_images_reach_the_callback_computed_or_cached(fixture, tmp_path):
    model, images, labels, defenses = fixture
    attacks = [AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3))]
    cache = CellCache(tmp_path / "cells")
    for _ in range(2):                                                          # computed, then read
        seen = {}

        def keep(attack, defense, adversarial, seen=seen):
            seen[attack, defense] = adversarial

        run_matrix(attacks, defenses, images, labels, cache=cache, on_adversarial=keep)
        assert sorted(seen) == sorted(("FGSM", d.name) for d in defenses)       # attack cells only, not clean
        assert torch.equal(seen["FGSM", "none"], FGSM(model, 0.3)(images, labels))
    assert cache.read == 2 * len(defenses)


def test_robust_calls_score_every_call_of_a_randomised_defense_on_its_own():
    """A defense that alternates: right on even calls, rejecting on odd ones. Attacked, a rejection is robust;
    clean, only a correct answer is."""
    images, labels = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    calls = []

    def classify(x):
        calls.append(len(x))
        return labels.clone() if len(calls) % 2 else torch.full((len(x),), REJECTED)

    flip = Defense("flip", classify, nn.Identity(), nn.Identity(), randomised=True, detects=True)
    assert robust_calls(flip, images, labels, 3).all() and calls == [4, 4, 4]
    clean = robust_calls(flip, images, labels, 4, attacked=False)
    assert clean.shape == (4, 4) and clean[:, 0].tolist() == [False, True, False, True]
    with pytest.raises(ValueError, match="calls must be a positive number"):
        robust_calls(flip, images, labels, 0)


def test_the_worst_case_counts_an_image_robust_only_if_every_bounded_attack_failed():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
        model[1].bias.zero_()
    images = torch.tensor([[0.9, 0.1, 0.5, 0.5], [0.9, 0.1, 0.5, 0.5], [0.9, 0.1, 0.5, 0.5]]).view(3, 1, 2, 2)
    labels = torch.zeros(3, dtype=torch.long)

    def swap(indices):   # fools exactly the images in `indices` (swaps their first two pixels)
        def craft(x, y):
            out = x.clone()
            out.view(len(x), -1)[indices, :2] = out.view(len(x), -1)[indices].flip(1)[:, 2:]
            return out
        return lambda _: craft

    attacks = [AttackSpec("fools 0", "fixed", swap([0])), AttackSpec("fools 1", "fixed", swap([1])),
               AttackSpec("fools 0-2", "fixed", swap([0, 1, 2]), bounded=False)]
    cells = {c.attack: c for c in run_matrix(attacks, [Defense.around("none", model)], images, labels)}
    assert cells["fools 0"].robust == pytest.approx(2 / 3) and cells["fools 1"].robust == pytest.approx(2 / 3)
    assert cells["fools 0-2"].robust == 0 and not cells["fools 0-2"].bounded
    assert cells[WORST_CASE].robust == pytest.approx(1 / 3)                 # the unbounded row does not count
    assert cells[WORST_CASE].kind == "worst" and cells["clean"].kind == "clean"


def test_a_costly_defense_is_scored_on_its_own_prefix_and_an_attack_may_not_apply(fixture):
    model, images, labels, defenses = fixture
    costly = Defense("costly", lambda x: predict(model, x), model, model, sample=8, adaptive_sample=5)
    crafted_counts = []

    def adaptive(defense):
        if defense.detects:
            return None                                                      # e.g. an attack with no reject logit
        attack = FGSM(defense.adaptive_target, 0.3)
        return lambda x, y: crafted_counts.append(len(x)) or attack(x, y)

    detecting = Defense("detector", defenses[1].classify, model, model, detects=True)
    attacks = [AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3)), AttackSpec("adaptive", "adaptive", adaptive)]
    cells = run_matrix(attacks, [defenses[0], costly, detecting], images, labels)
    by = {(c.attack, c.defense): c for c in cells}
    assert by[("FGSM", "none")].n == 12 and by[("FGSM", "costly")].n == 8 and by[("adaptive", "costly")].n == 5
    assert by[(WORST_CASE, "costly")].n == 5                                 # the images every row scored
    assert crafted_counts == [12, 5]
    assert ("adaptive", "detector") not in by and (WORST_CASE, "detector") in by
    _, _, table = robust_table(cells)
    assert table.isnan().sum() == 1
    assert "n/a" in robust_table_text(cells)
    first_eight = {(c.attack): c for c in run_matrix(attacks[:1], [defenses[0]], images[:8], labels[:8])}
    assert by[("FGSM", "costly")].robust == first_eight["FGSM"].robust      # the same images, sliced
    short = run_matrix([AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3), bounded=False, sample=3)],
                       [defenses[0], costly], images, labels)
    assert [c.n for c in short if c.attack == "FGSM"] == [3, 3]
    with pytest.raises(ValueError, match="sample must be a positive number of images"):
        AttackSpec("bad", "oblivious", lambda m: FGSM(m, 0.3), sample=0)
    with pytest.raises(ValueError, match="adaptive_sample \\(9\\) cannot exceed sample \\(8\\)"):
        Defense("bad", lambda x: predict(model, x), model, model, sample=8, adaptive_sample=9)
    with pytest.raises(ValueError, match="sample must be a positive number"):
        Defense("bad", lambda x: predict(model, x), model, model, sample=0)


def test_red_flags_name_an_adaptive_attack_weaker_than_others_and_a_black_box_stronger_than_white_box():
    def cell(attack, kind, robust, n=200, bounded=True):
        return Cell(attack, "D", robust, 0.0, robust, 0.0, 0.0, 0.0, n, kind, bounded)

    sound = [cell("clean", "clean", 0.9), cell("PGD", "oblivious", 0.5), cell("transfer", "fixed", 0.6),
             cell("adaptive", "adaptive", 0.1), cell("C&W", "oblivious", 0.0, bounded=False)]
    assert red_flags(sound) == []
    flags = red_flags([cell("PGD", "oblivious", 0.66), cell("transfer", "fixed", 0.30),
                       cell("adaptive", "adaptive", 0.68)])
    assert len(flags) == 3
    assert "PGD (oblivious) leaves 66%" in flags[0] and "overlap" in flags[0]      # 0.66 vs 0.68 on 200: noise
    assert "transfer (black-box) leaves 30%" in flags[1] and "separate" in flags[1]
    assert "transfer (black-box) leaves 30%" in flags[2] and "white-box attack (PGD" in flags[2]
    named = red_flags([cell("substitute (black-box)", "fixed", 0.3), cell("adaptive PGD", "adaptive", 0.5)])
    assert "substitute (black-box) leaves" in named[0] and "adaptive PGD 50%" in named[0]   # no kind said twice
    steps = [cell("FGSM", "oblivious", 0.70), cell("PGD", "oblivious", 0.71), cell("adaptive", "adaptive", 0.1)]
    assert red_flags(steps) == []                                             # the check needs both names
    iterative = red_flags(steps, single_step="FGSM", iterative="PGD")
    assert len(iterative) == 1 and "the iterative PGD leaves 71%" in iterative[0]
    assert "overlap" in iterative[0] and "gradient they follow is failing" in iterative[0]
    purifier = red_flags(steps, single_step="FGSM", iterative="PGD", purifying={"D"})
    assert "oblivious threat model" in purifier[0] and "gradient" not in purifier[0]
    separated = red_flags([cell("FGSM", "oblivious", 0.40, n=500), cell("PGD", "oblivious", 0.60, n=500)],
                          single_step="FGSM", iterative="PGD")
    assert "the intervals separate" in separated[0]
    assert red_flags([cell("FGSM", "oblivious", 0.7), cell("PGD", "oblivious", 0.2)], "FGSM", "PGD") == []
    with pytest.raises(ValueError, match="both"):
        red_flags(steps, single_step="FGSM")


def test_an_epsilon_sweep_reaches_zero_against_no_defense_and_flags_a_defense_that_stops_it(fixture):
    model, images, labels, defenses = fixture
    pgd = lambda eps: AttackSpec("PGD", "oblivious", lambda m: PGD(m, eps, steps=10))  # noqa: E731
    sweep = epsilon_sweep(defenses[0], pgd, [0.0, 0.1, 0.5], images, labels)
    assert [cell.attack for cell in sweep] == ["PGD ε=0", "PGD ε=0.1", "PGD ε=0.5"]
    assert sweep[0].robust == 1.0 and sweep[-1].robust == 0.0 and sweep_flags(sweep) == []
    blind = Defense("blind", lambda x: labels.clone(), model, model)
    stuck = epsilon_sweep(blind, pgd, [0.5], images, labels)     # answers the true labels, whatever it sees
    assert stuck[0].robust == 1.0 and "still leaves 100%" in sweep_flags(stuck)[0]
    with pytest.raises(ValueError, match="increasing"):
        epsilon_sweep(defenses[0], pgd, [0.3, 0.1], images, labels)


def test_a_sweep_whose_robustness_rises_with_the_budget_is_flagged():
    def cell(eps, robust, n=40):
        return Cell(f"PGD ε={eps}", "D", robust, 0.0, robust, 0.0, 0.0, 0.0, n, "adaptive", True)

    assert sweep_flags([cell(0.2, 0.0), cell(0.3, 0.025), cell(0.5, 0.0)]) == []     # within noise: no flag
    rising = sweep_flags([cell(0.2, 0.0), cell(0.3, 0.3), cell(0.5, 0.025)])
    assert len(rising) == 1 and "rises from 0%" in rising[0] and "PGD ε=0.3" in rising[0]


def test_a_defense_is_fooled_only_by_an_accepted_wrong_answer(fixture):
    model, images, labels, defenses = fixture
    detector = defenses[1]
    fooled = detector.fooled(images, (labels + 1) % 3)
    bright = images.flatten(1).mean(1) > 0.5
    assert torch.equal(fooled, ~bright)                                      # rejected images are not fooled
    assert not detector.fooled(images, labels).any()


def test_the_adaptive_attack_asks_a_randomised_defense_several_times_before_it_counts_a_success(fixture):
    """EOT in the success test: against a randomised defense the matrix's adaptive attack stops on an image only
    after JUDGE_CALLS calls all misclassify it; a deterministic defense is asked once."""
    model, images, labels, _ = fixture
    wrong = (labels + 1) % 3                                    # every image already misclassified: success at once
    for randomised, expected_calls in ((False, 1), (True, JUDGE_CALLS)):
        calls = []

        def classify(x, calls=calls):
            calls.append(len(x))
            return predict(model, x)

        defense = Defense("d", classify, model, model, randomised=randomised)
        adaptive_attack(defense, 0.05, steps=3, classes=3)(images, wrong)
        assert calls == [len(images)] * expected_calls


def test_matrix_rejects_bad_input(fixture):
    model, images, labels, defenses = fixture
    spec = AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3))
    with pytest.raises(ValueError, match="kind must be one of"):
        AttackSpec("FGSM", "white-box", lambda m: FGSM(m, 0.3))
    with pytest.raises(ValueError, match="unique"):
        run_matrix([spec, spec], defenses, images, labels)
    with pytest.raises(ValueError, match="at least one attack"):
        run_matrix([], defenses, images, labels)
    with pytest.raises(ValueError, match="labels"):
        run_matrix([spec], defenses, images, labels[:5])


def test_write_matrix_writes_table_json_and_figure(fixture, tmp_path):
    model, images, labels, defenses = fixture
    cells = run_matrix([AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3))], defenses, images, labels)
    csv_path, json_path, png_path = write_matrix(cells, tmp_path / "out", {"model": "fixture"})
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == len(cells) == 3 * len(defenses)
    assert json.loads(json_path.read_text())["metadata"] == {"model": "fixture"}
    assert png_path.stat().st_size > 1000


def test_a_cells_interval_is_the_95_percent_wilson_interval():
    cell = Cell("PGD", "none", 0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 100, "oblivious", True)
    low, high = cell.robust_interval()              # 50 of 100: 0.5 ± 0.0962 (Wilson, z = 1.96)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)


def test_the_robust_table_as_text_has_one_line_per_attack_and_a_column_per_defense():
    cells = [Cell("clean", "none", 1.0, 0.0, 1.0, 0.0, 0.1, 0.0, 8, "clean", True),
             Cell("clean", "MagNet", 0.9, 0.05, 0.9, 0.0, 0.2, 0.0, 8, "clean", True),
             Cell("a very long attack name, cut", "none", 0.125, 0.0, 0.125, 3.0, 0.1, 1.5, 8, "fixed", True),
             Cell("a very long attack name, cut", "MagNet", 0.25, 0.5, 0.75, 3.0, 0.2, 1.5, 8, "fixed", True)]
    assert robust_table_text(cells).splitlines() == [
        "robust accuracy" + " " * 9 + "        none      MagNet",
        "clean" + " " * 19 + "      100.0%       90.0%",
        "a very long attack name," + "       12.5%       75.0%"]


def test_the_book_matrix_refuses_the_gpu_profile_without_cuda(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="profile 'gpu' needs a CUDA GPU"):
        run_book_matrix("A", "mnist5k", "gpu", 16, 0, tmp_path / "matrix")
    assert not (tmp_path / "matrix").exists()                                  # refused before writing anything


@pytest.mark.slow
def test_the_matrix_command_runs_the_book_lineup(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANCOURSE_CHECKPOINT_DIR", str(tmp_path / "store"))
    code = main(["matrix", "--profile", "smoke", "--dataset", "mnist5k", "--model", "D", "--images", "16",
                 "--output", str(tmp_path / "matrix")])
    assert code == 0, capsys.readouterr().err
    result = json.loads((tmp_path / "matrix" / "matrix.json").read_text())
    attacks = {cell["attack"] for cell in result["cells"]}
    defenses = {cell["defense"] for cell in result["cells"]}
    assert len(attacks) == 13 and len(defenses) == 8
    assert {"none", "distillation", "Defense-GAN", "APE-GAN", "MagNet", "detector"} <= defenses
    assert {"clean", "AdvGAN", "AI-GAN", "substitute (black-box)", AUTOATTACK_NAME} <= attacks
    without_autoattack = {cell["defense"] for cell in result["cells"]} - {
        cell["defense"] for cell in result["cells"] if cell["attack"] == AUTOATTACK_NAME}
    assert without_autoattack == {"detector", "MagNet", "Defense-GAN"}        # a reject output or randomness
    assert len(result["cells"]) == 13 * 8 - 3
    assert result["metadata"]["model"] == "D" and result["metadata"]["images"] == 16
    assert result["metadata"]["device"] == best_device().type                # the chapters' rule, not the profile's
    assert main(["matrix", "--profile", "smoke", "--dataset", "mnist5k", "--images", "100000",
                 "--output", str(tmp_path / "x")]) == 1
    assert "ask for fewer" in capsys.readouterr().err


def test_the_heatmap_greys_unbounded_rows_and_separates_the_kinds_of_rows(fixture):
    model, images, labels, defenses = fixture
    cells = run_matrix([AttackSpec("FGSM", "oblivious", lambda m: FGSM(m, 0.3)),
                        AttackSpec("loose", "oblivious", lambda m: FGSM(m, 0.5), bounded=False),
                        AttackSpec("adaptive", "adaptive", lambda d: FGSM(d.adaptive_target, 0.3))],
                       defenses, images, labels)
    axis = plot_matrix(cells).axes[0]
    coloured, rows = axis.images[0].get_array(), robust_table(cells)[0]
    assert coloured.mask[rows.index("loose")].all() and not coloured.mask[rows.index("FGSM")].any()
    assert len(axis.lines) == 3                               # clean | oblivious | adaptive | worst case
