"""A classifier trained on few labelled images, with and without extra training images: GAN samples (the
medical-data use of conditional GANs, in miniature) or classical shifted-and-flipped copies (chapter 03).

One trial trains a fresh classifier for a fixed number of Adam steps on batches that take equal shares from
each *pool* of training images (the real labelled images; optionally one pool of extra images), then counts its
correct answers on the test images. Repeating the trial over seeds and comparing arms seed by seed is
:func:`compare_arms`'s job; the difference of two arms is summarised by the mean over seeds with a Student-t
interval, since the seeds, not the test images, are the repeated experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from gancourse.evaluate import mean_interval, predict, wilson_interval
from gancourse.train.classifier import train_classifier
from gancourse.validation import check_count, check_images, check_labels, check_seed

Pool = tuple[torch.Tensor, torch.Tensor]  # images in [0, 1] (N×C×H×W) and their int64 labels

LABELLED_PER_CLASS = 50   # chapter 03's few labels: 50 images of each class (500 for Fashion-MNIST)
EXTRA_PER_CLASS = 500     # extra images of each class in an augmented arm: ten times the labelled ones
TRIAL_ARCHITECTURE = "B"  # the Defense-GAN paper's model B: a third convolutional net, half model A's FLOPs
TRIAL_STEPS = 500         # Adam steps of every trial's classifier (64 passes over 500 images at batch 64)
TRIAL_SEEDS = 5           # trials per arm: the seeds set the classifier's initialisation, batches and extra images
ARMS = ("real only", "+ shifted/flipped", "+ few-label cGAN", "+ chapter's cGAN", "chapter's cGAN only")
"""Chapter 03's arms: where a trial's training images come from (the chapter builds each arm's pools)."""


def conditional_samples(generator: nn.Module, per_class: int, num_classes: int, latent_dim: int, seed: int,
                        device: torch.device | str = "cpu", batch_size: int = 500) -> Pool:
    """``per_class`` samples G(z | y) of every class y, z ~ N(0, I) drawn with ``seed``: a labelled synthetic
    training set (labels are the classes asked for, not checked by anyone)."""
    check_count("per_class", per_class)
    check_count("num_classes", num_classes, minimum=2)
    check_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    noise = torch.randn(len(labels), latent_dim, generator=torch.Generator().manual_seed(seed))
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        images = torch.cat([generator(noise[i:i + batch_size].to(device), labels[i:i + batch_size].to(device)).cpu()
                            for i in range(0, len(labels), batch_size)])
    generator.train(was_training)
    return images, labels


def labels_in_shares(shares: Sequence[float], total: int) -> torch.Tensor:
    """``total`` class labels (sorted) in the given ``shares``, exactly rather than sampled: class k gets
    ⌊s_k · total⌋ labels, and the labels left over go one each to the classes with the largest remainders
    s_k · total − ⌊s_k · total⌋ (largest-remainder apportionment). The shares must be non-negative and sum to 1."""
    check_count("total", total)
    weights = torch.as_tensor(shares, dtype=torch.float64)
    if weights.dim() != 1 or len(weights) < 1 or (weights < 0).any() or abs(weights.sum().item() - 1) > 1e-6:
        raise ValueError(f"shares must be non-negative numbers that sum to 1, got {list(shares)}")
    exact = weights * total
    counts = exact.floor().long()
    leftover = total - int(counts.sum())
    counts[torch.argsort(exact - counts, descending=True, stable=True)[:leftover]] += 1
    return torch.arange(len(weights)).repeat_interleave(counts)


def shifted_and_flipped(images: torch.Tensor, labels: torch.Tensor, copies: int, seed: int,
                        max_shift: int = 2) -> Pool:
    """Classical augmentation: ``copies`` versions of every image, each shifted by a random whole number of pixels
    in [−max_shift, max_shift] along each axis (the uncovered border filled with 0, the background) and mirrored
    left–right with probability ½. The labels are repeated."""
    check_images(images)
    check_count("copies", copies)
    check_count("max_shift", max_shift, minimum=0)
    check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    height, width = images.shape[-2:]
    padded = F.pad(images, (max_shift,) * 4)
    out = []
    for _ in range(copies):
        shifts = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=generator)
        flips = torch.rand(len(images), generator=generator) < 0.5
        for image, (dy, dx), flip in zip(padded, shifts.tolist(), flips.tolist(), strict=True):
            crop = image[:, dy:dy + height, dx:dx + width]
            out.append(crop.flip(-1) if flip else crop)
    return torch.stack(out), labels.repeat(copies)


def balanced_loader(pools: Sequence[Pool], steps: int, batch_size: int, seed: int) -> DataLoader:
    """Exactly ``steps`` batches of ``batch_size`` images drawn with replacement so that each pool supplies, in
    expectation, the same share of every batch (an example of pool k has weight 1 / |pool k|)."""
    if not pools:
        raise ValueError("give at least one pool of (images, labels)")
    check_count("steps", steps)
    check_count("batch_size", batch_size)
    check_seed(seed)
    for images, labels in pools:
        if len(images) == 0 or len(images) != len(labels):
            raise ValueError(f"every pool needs images and one label per image; got {len(images)} images and "
                             f"{len(labels)} labels")
    weights = torch.cat([torch.full((len(images),), 1.0 / len(images), dtype=torch.float64) for images, _ in pools])
    dataset = TensorDataset(torch.cat([images for images, _ in pools]), torch.cat([labels for _, labels in pools]))
    sampler = WeightedRandomSampler(weights, steps * batch_size, replacement=True,
                                    generator=torch.Generator().manual_seed(seed))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)


@dataclass(frozen=True)
class Trial:
    """One trained classifier of one arm: ``correct`` of ``n`` test images right."""

    arm: str
    seed: int
    correct: int
    n: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of this classifier's test accuracy (the test images' sampling error only)."""
        return wilson_interval(self.correct, self.n)


def run_trial(arm: str, build: Callable[[], nn.Module], pools: Sequence[Pool], test: Pool, *, steps: int,
              batch_size: int, seed: int, device: torch.device | str = "cpu", lr: float = 1e-3) -> Trial:
    """Train ``build()`` (initialised under ``seed``) with Adam(``lr``) for ``steps`` batches of
    :func:`balanced_loader` over ``pools``, then count its correct answers on ``test``."""
    test_images, test_labels = test
    check_images(test_images, "test images")
    for images, labels in pools:
        check_images(images, "training images")
        check_labels(labels, len(images), "training labels")
    torch.manual_seed(seed)
    model = build()
    train_classifier(model, balanced_loader(pools, steps, batch_size, seed), 1, lr=lr, device=device)
    correct = int((predict(model, test_images.to(device)) == test_labels.to(device)).sum())
    return Trial(arm, seed, correct, len(test_labels))


def compare_arms(trials: Sequence[Trial], arm: str, baseline: str) -> tuple[float, float, float]:
    """The paired difference accuracy(arm) − accuracy(baseline) over the seeds both arms ran:
    (mean, low, high) by :func:`mean_interval`."""
    by_seed = {(trial.arm, trial.seed): trial.accuracy for trial in trials}
    seeds = sorted(seed for name, seed in by_seed if name == arm and (baseline, seed) in by_seed)
    if len(seeds) < 2:
        raise ValueError(f"arms {arm!r} and {baseline!r} share {len(seeds)} seed(s); a paired comparison needs two")
    return mean_interval([by_seed[(arm, seed)] - by_seed[(baseline, seed)] for seed in seeds])
