"""The chapters' cost model: loops costed from their units, the two floors, published weights, the report."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from gancourse.chapter_costs import (
    CHAPTER_LOOPS,
    OPERATION_SECONDS,
    LoopCost,
    _per_image,
    chapter_costs,
    steps_per_epoch,
)
from gancourse.costs import Workload
from gancourse.profiles import PROFILES


def _units(flops: int = 10 ** 9, operations: int = 100) -> dict[str, Workload]:
    """Every unit the table names, each costing ``flops`` and ``operations`` (a stand-in for the counted ones)."""
    names = {loop.unit for loops in CHAPTER_LOOPS.values() for loop in loops}
    return {name: Workload(name, "unit", flops, lambda: None, operations) for name in names}


def test_a_loop_takes_the_longer_of_its_arithmetic_and_its_launch_latency():
    arithmetic = LoopCost("c", "big", flops=2e12, sequential_operations=10, skipped=False)
    latency = LoopCost("c", "many small steps", flops=1e6, sequential_operations=3e6, skipped=False)
    assert arithmetic.seconds(1e12) == pytest.approx(2.0)
    assert latency.seconds(1e12) == pytest.approx(3e6 * OPERATION_SECONDS)
    assert LoopCost("c", "loaded", 2e12, 10, skipped=True).seconds(1e12) == 0.0
    with pytest.raises(ValueError, match="positive"):
        arithmetic.seconds(0)


def test_per_image_loops_count_images_times_steps_and_chunks_as_sequential_steps():
    loop = _per_image("attack", "input gradient A", lambda p: 1000, lambda p: 20, chunk=256)
    assert loop.units(PROFILES["cpu"]) == 20_000
    assert loop.sequential(PROFILES["cpu"]) == 20 * math.ceil(1000 / 256)
    assert _per_image("attack", "u", lambda p: 1000, lambda p: 20).sequential(PROFILES["cpu"]) == 20


def test_steps_per_epoch_keeps_the_partial_batch_and_reads_the_full_training_set_when_the_size_is_none():
    assert steps_per_epoch(PROFILES["cpu"]) == math.ceil(12_000 / 64)
    assert steps_per_epoch(PROFILES["gpu"]) == math.ceil(60_000 / 128) == 469


def test_published_weights_skip_exactly_the_loops_of_published_models():
    from gancourse.weights import published_names

    published, trained = chapter_costs(PROFILES["gpu"], "published", _units()), chapter_costs(PROFILES["gpu"], "train", _units())
    names = published_names()
    for chapter, loops in CHAPTER_LOOPS.items():
        for loop, with_files, without in zip(loops, published[chapter], trained[chapter], strict=True):
            assert with_files.skipped == (loop.published in names) and not without.skipped
    assert any(cost.skipped for cost in published["09_defense_gan"])                 # the WGAN-GP is published
    with pytest.raises(ValueError, match="weights"):
        chapter_costs(PROFILES["gpu"], "downloaded", _units())


def test_every_loops_cost_grows_with_the_profile_from_smoke_to_gpu():
    costs = {name: chapter_costs(PROFILES[name], "train", _units()) for name in ("smoke", "cpu", "gpu")}
    for chapter in CHAPTER_LOOPS:
        totals = [sum(loop.flops for loop in costs[name][chapter]) for name in ("smoke", "cpu", "gpu")]
        assert totals[0] < totals[1] < totals[2], chapter


def test_a_budget_field_scales_exactly_the_loops_that_read_it():
    """Doubling L doubles the projection loops' FLOPs and leaves every other loop of chapter 09 unchanged."""
    profile = PROFILES["cpu"]
    longer = dataclasses.replace(profile, projection_steps=2 * profile.projection_steps)
    base, doubled = (chapter_costs(p, "train", _units())["09_defense_gan"] for p in (profile, longer))
    for loop, before, after in zip(CHAPTER_LOOPS["09_defense_gan"], base, doubled, strict=True):
        expected = 2 * before.flops if loop.unit == "projection step" else before.flops
        assert after.flops == pytest.approx(expected), loop.what


@pytest.mark.slow
def test_the_unit_workloads_follow_the_hand_counts_and_the_batch():
    from test_costs import CLASSIFIER_A_BY_HAND, GENERATOR_BY_HAND

    from gancourse.chapter_costs import unit_workloads

    units = unit_workloads(PROFILES["smoke"])                                            # batch 64
    assert units["projection step"].flops == pytest.approx(2 * GENERATOR_BY_HAND, rel=0.1)
    assert units["input gradient A"].flops == pytest.approx(2 * CLASSIFIER_A_BY_HAND, rel=0.15)
    assert units["classifier A"].flops == pytest.approx(3 * 64 * CLASSIFIER_A_BY_HAND, rel=0.15)
    gradient, step = units["input gradient A"].flops, units["classifier A"].flops
    assert units["PGD training step"].flops == pytest.approx(step + 2 * 64 * gradient, rel=1e-6)   # k = 2 at smoke
    assert units["AI-GAN step"].flops > units["AdvGAN step"].flops                       # its PGD attacker
    assert all(unit.flops > 0 and unit.operations > 0 for unit in units.values())


@pytest.mark.slow
def test_the_estimates_file_is_current_and_the_report_shows_it(tmp_path):
    """book/cost_estimates.json must be what the cost model says now (rewrite it with
    `gancourse costs --chapters` after changing a loop, a unit or a profile)."""
    from gancourse.book.layout import BookLayout
    from gancourse.book.report import estimates_section
    from gancourse.chapter_costs import estimates

    layout = BookLayout.of_repository()
    stored = json.loads(layout.cost_estimates.read_text())
    now = estimates(runs=(("gpu", "published"),))
    for chapter, runs in now["chapters"].items():
        assert stored["chapters"][chapter]["gpu/published"]["seconds"] == pytest.approx(
            runs["gpu/published"]["seconds"], rel=0.01), chapter
    section = estimates_section(layout)
    assert "Estimated time on GPUs" in section and all(chapter in section for chapter in CHAPTER_LOOPS)


def test_the_gpu_profile_fits_a_colab_t4_with_the_published_weights():
    """Issue 24's sizing: by the cost model, every chapter at most 15 minutes on a T4 in the gpu profile with the
    published weights (book/cost_estimates.json, which the test above keeps equal to a recomputation)."""
    from gancourse.book.layout import BookLayout

    stored = json.loads(BookLayout.of_repository().cost_estimates.read_text())
    minutes = {chapter: runs["gpu/published"]["seconds"]["T4"] / 60 for chapter, runs in stored["chapters"].items()}
    assert set(minutes) == set(CHAPTER_LOOPS)
    over = {chapter: round(value, 1) for chapter, value in minutes.items() if value > 15}
    # The one known exception, reported in the issue note: chapter 11 scores every Defense-GAN row 5 times (issue
    # 22's measurement of a randomised defense), about 17.5 minutes by the model; its calls must shrink on the gpu
    # profile at its next execution. Any other chapter over 15 minutes, or chapter 11 over 18, fails.
    assert set(over) <= {"11_robustness_matrix"} and minutes["11_robustness_matrix"] <= 18, over
