import math

import pytest
import torch
from torch import nn

from gancourse.augmentation import (
    Trial,
    balanced_loader,
    compare_arms,
    conditional_samples,
    labels_in_shares,
    run_trial,
    shifted_and_flipped,
)
from gancourse.data import labelled_subset
from gancourse.evaluate import mean_interval, t_quantile


def _labelled(n=300, classes=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 6, 6, generator=generator), torch.arange(n) % classes


def test_labelled_subset_takes_per_class_images_of_each_class_from_the_input():
    images, labels = _labelled()
    kept = images.clone()
    subset, subset_labels = labelled_subset(images, labels, 7, seed=3)
    assert torch.equal(torch.bincount(subset_labels), torch.tensor([7, 7, 7]))
    assert torch.equal(images, kept)
    for image, label in zip(subset, subset_labels, strict=True):       # every chosen image is an input image of its class
        rows = (images == image).flatten(1).all(1).nonzero().squeeze(1)
        assert len(rows) == 1 and labels[rows[0]] == label
    assert len({tuple(image.flatten().tolist()) for image in subset}) == 21        # without replacement
    again, _ = labelled_subset(images, labels, 7, seed=3)
    other, _ = labelled_subset(images, labels, 7, seed=4)
    assert torch.equal(subset, again) and not torch.equal(subset, other)


def test_labelled_subset_refuses_a_class_with_too_few_images():
    images, labels = _labelled(n=20, classes=3)            # classes of 7, 7 and 6 images
    with pytest.raises(ValueError, match="class 2 has only 6 images"):
        labelled_subset(images, labels, 7, seed=0)
    with pytest.raises(ValueError, match="per_class"):
        labelled_subset(images, labels, 0, seed=0)
    with pytest.raises(ValueError, match="one integer per image"):
        labelled_subset(images, labels[:-1], 2, seed=0)


def test_shifted_and_flipped_copies_are_shifts_or_mirror_images_of_their_source():
    images = torch.zeros(5, 1, 10, 10)
    images[:, :, 3:7, 2:5] = torch.rand(5, 1, 4, 3, generator=torch.Generator().manual_seed(1))  # inside the border
    labels = torch.arange(5)
    kept = images.clone()
    copies, copy_labels = shifted_and_flipped(images, labels, copies=4, seed=0, max_shift=2)
    assert copies.shape == (20, 1, 10, 10) and torch.equal(copy_labels, labels.repeat(4))
    assert torch.equal(images, kept)
    for copy, source in zip(copies, images.repeat(4, 1, 1, 1), strict=True):
        candidates = [torch.roll(base, (dy, dx), (-2, -1)) for base in (source, source.flip(-1))
                      for dy in range(-2, 3) for dx in range(-2, 3)]
        assert any(torch.equal(copy, candidate) for candidate in candidates)
        assert torch.isclose(copy.sum(), source.sum())    # nothing pushed out of the frame
    unshifted, _ = shifted_and_flipped(images, labels, copies=50, seed=0, max_shift=0)
    mirrored = torch.tensor([torch.equal(copy, source.flip(-1)) for copy, source in zip(unshifted, images.repeat(50, 1, 1, 1), strict=True)])
    assert 0.35 < mirrored.float().mean() < 0.65           # flipped with probability ½


def test_a_balanced_loader_gives_steps_batches_with_equal_shares_of_each_pool():
    small = (torch.zeros(10, 1, 2, 2), torch.zeros(10, dtype=torch.int64))
    large = (torch.ones(1000, 1, 2, 2), torch.ones(1000, dtype=torch.int64))
    loader = balanced_loader([small, large], steps=40, batch_size=50, seed=0)
    batches = list(loader)
    assert len(batches) == 40 and all(len(labels) == 50 for _, labels in batches)
    share = torch.cat([labels for _, labels in batches]).float().mean().item()
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / 2000)   # 4 standard errors
    again = [labels for _, labels in balanced_loader([small, large], steps=40, batch_size=50, seed=0)]
    assert all(torch.equal(a, b) for a, b in zip(again, [labels for _, labels in batches], strict=True))
    with pytest.raises(ValueError, match="at least one pool"):
        balanced_loader([], steps=1, batch_size=1, seed=0)
    with pytest.raises(ValueError, match="one label per image"):
        balanced_loader([(small[0], small[1][:3])], steps=1, batch_size=1, seed=0)


class _LabelPainter(nn.Module):
    """A 'conditional generator' whose image is its label / 10 everywhere plus z's first value ⋅ 0."""

    def forward(self, z, labels):
        return (labels.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 4, 4) + 0 * z[:, :1, None, None]


def test_conditional_samples_ask_for_each_class_and_restore_the_mode():
    generator = _LabelPainter().train()
    images, labels = conditional_samples(generator, per_class=3, num_classes=4, latent_dim=5, seed=0, batch_size=5)
    assert torch.equal(labels, torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]))
    assert torch.allclose(images[:, 0, 0, 0], labels.float() / 10)
    assert generator.training


def test_t_quantiles_are_the_tabled_values():
    assert t_quantile(0.975, 1) == pytest.approx(12.7062, abs=1e-3)
    assert t_quantile(0.975, 4) == pytest.approx(2.7764, abs=1e-4)
    assert t_quantile(0.975, 10) == pytest.approx(2.2281, abs=1e-4)
    assert t_quantile(0.95, 2) == pytest.approx(2.9200, abs=1e-4)
    assert t_quantile(0.975, 10_000) == pytest.approx(1.95996, abs=1e-3)   # → the normal quantile
    assert t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="probability"):
        t_quantile(0.3, 3)


def test_t_quantiles_agree_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for p in (0.9, 0.975, 0.995):
        for nu in (1, 2, 3, 5, 9, 29):
            assert t_quantile(p, nu) == pytest.approx(stats.t.ppf(p, nu), rel=1e-5)


def test_mean_interval_and_paired_comparison_known_answers():
    mean, low, high = mean_interval([1.0, 2.0, 3.0])                 # s = 1, n = 3: half-width t(2)·1/√3
    assert mean == 2.0 and high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert mean - low == pytest.approx(high - mean)
    with pytest.raises(ValueError, match="at least two"):
        mean_interval([1.0])
    trials = [Trial("real", 0, 50, 100), Trial("real", 1, 60, 100), Trial("gan", 0, 55, 100),
              Trial("gan", 1, 67, 100), Trial("gan", 2, 90, 100)]      # seed 2 has no baseline: left out
    assert compare_arms(trials, "gan", "real") == pytest.approx(mean_interval([0.05, 0.07]))
    with pytest.raises(ValueError, match="share 1 seed"):
        compare_arms(trials[:3], "gan", "real")


def test_a_trial_learns_a_separable_task_and_reports_its_count():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 2
    images = (0.2 + 0.6 * labels.float()).view(-1, 1, 1, 1).expand(-1, 1, 4, 4) \
        + 0.05 * torch.rand(200, 1, 4, 4, generator=generator)
    build = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 2))    # noqa: E731
    trial = run_trial("real", build, [(images[:100], labels[:100])], (images[100:], labels[100:]), steps=60,
                      batch_size=20, seed=0, lr=0.05)
    assert trial.n == 100 and trial.correct == 100
    low, high = trial.interval
    assert low < trial.accuracy <= high
    again = run_trial("real", build, [(images[:100], labels[:100])], (images[100:], labels[100:]), steps=2,
                      batch_size=20, seed=0, lr=0.05)
    assert again.arm == "real" and 0 <= again.correct <= 100
    with pytest.raises(ValueError, match="training labels"):
        run_trial("real", build, [(images[:100], labels[:99])], (images[100:], labels[100:]), steps=1,
                  batch_size=20, seed=0)


def test_labels_in_shares_are_exact_counts_by_largest_remainder():
    labels = labels_in_shares([0.5, 0.3, 0.2], 10)
    assert labels.tolist() == [0] * 5 + [1] * 3 + [2] * 2
    counts = torch.bincount(labels_in_shares([0.334, 0.333, 0.333], 100), minlength=3).tolist()
    assert counts == [34, 33, 33]                                     # one leftover label, to the largest remainder
    counts = torch.bincount(labels_in_shares([0.125] * 8, 500), minlength=8)
    assert counts.sum() == 500 and counts.max() - counts.min() <= 1   # ties: every class within one label
    shares = torch.rand(10, generator=torch.Generator().manual_seed(0))
    shares = (shares / shares.sum()).tolist()
    counts = torch.bincount(labels_in_shares(shares, 777), minlength=10)
    assert counts.sum() == 777 and all(abs(c - s * 777) < 1 for c, s in zip(counts.tolist(), shares, strict=True))
    for bad in ([0.5, 0.6], [1.2, -0.2], []):
        with pytest.raises(ValueError, match="sum to 1"):
            labels_in_shares(bad, 10)
