"""Evaluation: predictions, accuracy, feature embeddings, the Fréchet distance, and the 95% interval of a rate."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from gancourse.networks import model_device
from gancourse.validation import check_count, check_dtype, check_images


@torch.no_grad()
def _evaluate_in_batches(model: nn.Module, images: torch.Tensor, batch_size: int,
                         keep: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``keep(model(batch))`` for every batch of ``images`` (N×C×H×W in [0, 1], the dtype of the model's
    weights), concatenated; the model runs in eval mode on its own device (the CPU for a model without
    parameters) and its train/eval mode is restored afterwards."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_images(images)
    check_dtype(images, model)
    check_count("batch_size", batch_size)
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        return torch.cat([keep(model(images[start:start + batch_size].to(device)))
                          for start in range(0, len(images), batch_size)])
    finally:
        model.train(was_training)


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The predicted class (argmax of the logits) of every image, computed in eval mode, on the images' device."""
    return _evaluate_in_batches(model, images, batch_size, lambda logits: logits.argmax(1)).to(images.device)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    """The fraction of images whose predicted class equals its label."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return (predict(model, images, batch_size) == labels.to(images.device)).float().mean().item()


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017's FID when the
    features are Inception's):  d² = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}).

    Tr((Σ_a Σ_b)^{1/2}) is computed as Σ_i sqrt(λ_i) over the eigenvalues λ_i of the symmetric matrix
    Σ_a^{1/2} Σ_b Σ_a^{1/2}, in float64 (no complex square roots, no scipy).
    """
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        if features.dim() != 2 or len(features) < 2:
            raise ValueError(f"{name} must be N×D with N ≥ 2, got shape {tuple(features.shape)}")
        if not torch.isfinite(features).all():
            raise ValueError(f"{name} contains NaN or Inf")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"feature sizes differ: {features_a.shape[1]} vs {features_b.shape[1]}")
    a, b = features_a.double().cpu(), features_b.double().cpu()
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov_a)
    sqrt_a = eigenvectors @ torch.diag(eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
    middle = torch.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = middle.clamp(min=0).sqrt().sum()
    value = (mean_a - mean_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return max(float(value), 0.0)


def frechet_difference_interval(features_a: torch.Tensor, features_b: torch.Tensor, reference: torch.Tensor,
                                resamples: int = 200, confidence: float = 0.95,
                                seed: int = 0, paired: bool = False) -> tuple[float, float, float]:
    """How much of a gap d(a) − d(b) between two Fréchet distances to one ``reference`` set is sampling noise:
    the gap and its percentile-bootstrap interval.

    Each of ``resamples`` rounds draws a, b and the reference again with replacement (the reference draw shared
    by both distances, so the comparison is paired) and computes d*(a) − d*(b); the interval is the central
    ``confidence`` share of those gaps. Duplicates in a resampled set bias each distance upwards by about the
    same amount for a and b, so the gap is less biased than either distance. An interval that excludes 0 says
    the gap is larger than the noise of the sets' sizes — not that it would survive another training run.

    ``paired=True`` is for two sets whose rows belong together (sample i of a and of b made from the same noise
    vector, say): a and b are then redrawn with one shared set of row indices, which keeps their correlation and
    narrows the interval accordingly; the two sets must have the same number of rows.

    Returns (d(a) − d(b), low, high).
    """
    check_count("resamples", resamples)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if paired and len(features_a) != len(features_b):
        raise ValueError(f"paired sets need the same number of rows, got {len(features_a)} and {len(features_b)}: "
                         "pass paired=False for independent sets")
    gap = frechet_distance(features_a, reference) - frechet_distance(features_b, reference)
    generator = torch.Generator().manual_seed(seed)

    def rows(count: int) -> torch.Tensor:
        return torch.randint(count, (count,), generator=generator)

    gaps = []
    for _ in range(resamples):
        reference_draw = reference[rows(len(reference))]
        rows_a = rows(len(features_a))
        rows_b = rows_a if paired else rows(len(features_b))
        gaps.append(frechet_distance(features_a[rows_a], reference_draw)
                    - frechet_distance(features_b[rows_b], reference_draw))
    tail = (1 - confidence) / 2
    low, high = torch.tensor(gaps, dtype=torch.float64).quantile(torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return gap, float(low), float(high)


def embed(feature_extractor: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Features of ``images`` (N×C×H×W in [0, 1]) from ``feature_extractor`` in eval mode, flattened, on the CPU."""
    return _evaluate_in_batches(feature_extractor, images, batch_size, lambda out: out.flatten(1).cpu())


def penultimate_features(classifier: nn.Sequential) -> nn.Sequential:
    """The classifier without its last layer: the features a Fréchet distance is computed on."""
    if not isinstance(classifier, nn.Sequential) or len(classifier) < 2:
        raise TypeError("penultimate_features needs an nn.Sequential classifier of at least two layers")
    return nn.Sequential(*list(classifier)[:-1])


def class_shares(classifier: nn.Module, images: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The fraction of ``images`` the classifier assigns to each of ``num_classes`` classes (sums to 1): a
    generator that covers the data gives each class about its share; a collapsed one leaves classes empty."""
    check_count("num_classes", num_classes)
    counts = torch.bincount(predict(classifier, images).cpu(), minlength=num_classes)
    if len(counts) > num_classes:
        raise ValueError(f"the classifier predicts {len(counts)} classes, more than num_classes={num_classes}")
    return counts.double() / counts.sum()


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a rate p̂ = successes / n (95% for the default z):
    (p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n). Unlike p̂ ± z√(p̂(1 − p̂)/n) it stays inside [0, 1]
    and is not empty at p̂ = 0 or 1, where rates of attacks and defenses often sit."""
    if isinstance(successes, bool) or not isinstance(successes, int) or isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"successes and n are counts (int), got {type(successes).__name__} and {type(n).__name__}; "
                        "pass the number of images, not a rate")
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got successes={successes}, n={n}")
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)     # exactly 0 and 1 at the ends, not rounding noise
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def sign_test(wins: int, losses: int) -> float:
    """The exact two-sided sign test of a paired comparison (McNemar's exact test on the discordant pairs): of the
    ``wins`` + ``losses`` = m images on which two methods disagree, ``wins`` favour the first. Under "neither is
    better" each discordant image is a fair coin, so

        p = min(1, 2 · Σ_{k ≤ min(wins, losses)} C(m, k) / 2^m)      (p = 1 when m = 0).

    Images on which both methods agree carry no information about which is better and do not enter."""
    for name, value in (("wins", wins), ("losses", losses)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative count of images, got {value!r}")
    m = wins + losses
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, k) for k in range(min(wins, losses) + 1)) / 2 ** m
    return min(1.0, 2 * tail)


def t_quantile(probability: float, degrees_of_freedom: int) -> float:
    """The Student-t quantile t_{p, ν}: the t with P(T ≤ t) = p, by bisection on the CDF

        P(T ≤ t) = ½ + ∫₀ᵗ Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) · (1 + u²/ν)^(−(ν+1)/2) du   (Simpson's rule, t ≥ 0)."""
    if not 0.5 <= probability < 1:
        raise ValueError(f"probability must be in [0.5, 1), got {probability}")
    check_count("degrees_of_freedom", degrees_of_freedom)
    nu = degrees_of_freedom
    log_scale = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)

    def cdf(t: float, intervals: int = 2000) -> float:
        h = t / intervals
        density = [math.exp(log_scale - (nu + 1) / 2 * math.log1p((k * h) ** 2 / nu)) for k in range(intervals + 1)]
        return 0.5 + h / 3 * (density[0] + density[-1] + 4 * sum(density[1:-1:2]) + 2 * sum(density[2:-1:2]))

    low, high = 0.0, 1.0
    while cdf(high) < probability:
        low, high = high, 2 * high
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < probability else (low, middle)
    return (low + high) / 2


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``values`` (one per seed) and its Student-t interval
    x̄ ± t_{(1+c)/2, n−1} · s / √n; needs at least two values."""
    if len(values) < 2:
        raise ValueError(f"an interval over seeds needs at least two values, got {len(values)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(values)
    mean = sum(values) / n
    spread = math.sqrt(sum((value - mean) ** 2 for value in values) / (n - 1))
    half = t_quantile((1 + confidence) / 2, n - 1) * spread / math.sqrt(n)
    return mean, mean - half, mean + half


@dataclasses.dataclass(frozen=True)
class LateGain:
    """How a training curve ended: the mean of its second-to-last and of its last ``window`` values."""

    window: int
    before: float
    last: float

    @property
    def still_rising(self) -> bool:
        """True when the last window's mean beats the one before by ``STILL_RISING`` or more."""
        return self.last - self.before >= STILL_RISING


STILL_RISING = 0.01
"""A success curve "still rises" while its last tenth beats the tenth before by a percentage point or more."""


def late_gain(values: Sequence[float], parts: int = 10) -> LateGain:
    """The curve's last two ``parts``-th parts compared: with w = ⌊len/parts⌋, before = mean(v[−2w:−w]) and
    last = mean(v[−w:]) — the book's rule for "trained until success stops rising" (gain < 1 point)."""
    if parts < 2:
        raise ValueError(f"parts must be at least 2, got {parts}")
    window = len(values) // parts
    if window < 1:
        raise ValueError(f"a curve of {len(values)} values has no {parts}th part to compare; record at least "
                         f"{parts} values")
    tail = [float(value) for value in values[len(values) - 2 * window:]]
    return LateGain(window, sum(tail[:window]) / window, sum(tail[window:]) / window)


def silhouette_iou(a: torch.Tensor, b: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Per image pair, the intersection over union of the two silhouettes (pixels brighter than ``threshold``):
    IoU = |S_a ∩ S_b| / |S_a ∪ S_b|, 1 for identical shapes, 0 for disjoint ones (and 1 when both are empty)."""
    check_images(a, "a")
    check_images(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be pairs of images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    mask_a, mask_b = (a > threshold).flatten(1), (b > threshold).flatten(1)
    union = (mask_a | mask_b).sum(1)
    return torch.where(union > 0, (mask_a & mask_b).sum(1) / union.clamp_min(1), torch.ones_like(union, dtype=a.dtype))


def brightness(images: torch.Tensor) -> torch.Tensor:
    """Each image's mean pixel value (images in [0, 1], N×C×H×W)."""
    check_images(images)
    return images.flatten(1).mean(1)


def wasserstein_1d(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Wasserstein-1 distance between two equal-size 1-D samples, exactly:
    W1 = (1/n) Σ_i |a_(i) − b_(i)|, with a_(i), b_(i) the sorted samples (optimal transport in 1-D matches
    order statistics)."""
    a, b = a.flatten(), b.flatten()
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"wasserstein_1d needs two non-empty samples of equal size, got {len(a)} and {len(b)}")
    return (a.sort().values - b.sort().values).abs().mean().item()


def attack_success_rate(model: nn.Module, clean: torch.Tensor, adversarial: torch.Tensor, labels: torch.Tensor,
                        target: torch.Tensor | None = None) -> float:
    """The fraction of attacks that succeed, counted only over images the model classifies correctly when
    clean (an image already misclassified is no success of the attack). Untargeted success: the prediction
    on the adversarial image differs from the label; targeted: it equals ``target``. The model runs in eval
    mode (dropout off), whatever mode it is in.
    """
    if clean.shape != adversarial.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and adversarial {tuple(adversarial.shape)} shapes differ")
    if len(labels) != len(clean) or (target is not None and len(target) != len(clean)):
        raise ValueError(f"{len(clean)} images need as many labels (and targets), got {len(labels)}"
                         + (f" and {len(target)}" if target is not None else ""))
    labels = labels.to(clean.device)
    if target is not None and (target.to(clean.device) == labels).any():
        raise ValueError("some targets equal the true label; a targeted attack needs target ≠ label")
    correct = predict(model, clean) == labels
    if not correct.any():
        raise ValueError("the model misclassifies every clean image, so no attack can be counted")
    predicted = predict(model, adversarial)
    success = predicted == target.to(clean.device) if target is not None else predicted != labels
    return success[correct].float().mean().item()


def roc_curve(negative_scores: torch.Tensor, positive_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """False- and true-positive rates of the detector "score > threshold" over every threshold, from the
    strictest (nothing flagged, (0, 0)) to the loosest ((1, 1)). Negatives are clean, positives adversarial."""
    negative, positive = negative_scores.flatten().double().cpu(), positive_scores.flatten().double().cpu()
    if len(negative) == 0 or len(positive) == 0:
        raise ValueError("a ROC curve needs at least one negative and one positive score")
    thresholds = torch.cat([torch.tensor([float("inf")]), torch.cat([negative, positive]).unique().flip(0)])
    fpr = (negative.unsqueeze(0) >= thresholds.unsqueeze(1)).double().mean(1)
    tpr = (positive.unsqueeze(0) >= thresholds.unsqueeze(1)).double().mean(1)
    return fpr, tpr


def _checked_scores(negative_scores: torch.Tensor, positive_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    negative, positive = negative_scores.flatten().double().cpu(), positive_scores.flatten().double().cpu()
    if len(negative) == 0 or len(positive) == 0:
        raise ValueError("an AUC needs at least one negative and one positive score")
    if not (torch.isfinite(negative).all() and torch.isfinite(positive).all()):
        raise ValueError("detector scores contain NaN or Inf")
    return negative, positive


def _mid_ranks(scores: torch.Tensor) -> torch.Tensor:
    """Ranks 1…n of ``scores`` in increasing order, tied scores sharing their mean rank (float64)."""
    _, inverse, counts = scores.unique(return_inverse=True, return_counts=True)
    counts = counts.double()                                     # float32 ranks would lose digits
    first_rank = torch.cumsum(counts, 0) - counts + 1
    return (first_rank + (counts - 1) / 2)[inverse]


def roc_auc(negative_scores: torch.Tensor, positive_scores: torch.Tensor) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties counting
    one half: the Mann–Whitney U statistic over n₋·n₊, U = R₊ − n₊(n₊ + 1)/2 with R₊ the positives' rank
    sum (tied scores share their mean rank)."""
    negative, positive = _checked_scores(negative_scores, positive_scores)
    positive_rank_sum = _mid_ranks(torch.cat([negative, positive]))[len(negative):].sum()
    n_pos, n_neg = len(positive), len(negative)
    return ((positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


def roc_auc_interval(negative_scores: torch.Tensor, positive_scores: torch.Tensor,
                     z: float = 1.959963984540054) -> tuple[float, float]:
    """DeLong et al.'s (1988) interval of the AUC (95% for the default z): AUC ± z·SE, with

        SE² = s²(V₊)/n₊ + s²(V₋)/n₋,   V₊ᵢ = (1/n₋) Σⱼ ψ(pᵢ, nⱼ),   V₋ⱼ = (1/n₊) Σᵢ ψ(pᵢ, nⱼ),

    ψ(p, n) = 1 if p > n, ½ if p = n, else 0, and s² the sample variance (the structural components, computed
    from mid-ranks: V₊ᵢ = (rank of pᵢ among all − its rank among the positives) / n₋). The ends are bounded to
    [0, 1], where an AUC lives. A perfectly separating detector has SE = 0: its interval is the point (1, 1)
    whatever n, so read it with n (and prefer more images) rather than as certainty."""
    negative, positive = _checked_scores(negative_scores, positive_scores)
    n_neg, n_pos = len(negative), len(positive)
    if n_neg < 2 or n_pos < 2:
        raise ValueError(f"DeLong's interval needs at least two negative and two positive scores, got {n_neg} "
                         f"and {n_pos}")
    ranks = _mid_ranks(torch.cat([negative, positive]))
    positive_components = (ranks[n_neg:] - _mid_ranks(positive)) / n_neg
    negative_components = 1 - (ranks[:n_neg] - _mid_ranks(negative)) / n_pos
    auc = positive_components.mean().item()
    standard_error = math.sqrt(positive_components.var().item() / n_pos + negative_components.var().item() / n_neg)
    return max(0.0, auc - z * standard_error), min(1.0, auc + z * standard_error)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (N×d), t of shape N×1 in [0, 1]:
    slerp(a, b; t) = (sin((1 − t)Ω) a + sin(tΩ) b) / sin Ω, with Ω the angle between a and b."""
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"slerp needs two N×d tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    cosine = (a / a.norm(dim=1, keepdim=True) * (b / b.norm(dim=1, keepdim=True))).sum(1, keepdim=True)
    omega = torch.acos(cosine.clamp(-1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def perceptual_path_length(images_at: Callable[[torch.Tensor], torch.Tensor],
                           features_of: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor,
                           end: torch.Tensor, t: torch.Tensor, *, spherical: bool, eps: float = 1e-2) -> float:
    """A perceptual-path-length estimate (Karras et al. 2019) along the paths from ``start`` to ``end``:

        PPL = E [ ‖φ(G(p(t))) − φ(G(p(t + ε)))‖² / ε² ],   p = slerp (``spherical``) or lerp,

    with G = ``images_at`` (latents → images), φ = ``features_of`` (images → N×k features) and one t ∈ [0, 1 − ε]
    per path (``t``: N×1)."""
    if eps <= 0 or ((t < 0) | (t > 1 - eps)).any():
        raise ValueError(f"eps must be positive and every t in [0, 1 − eps]; got eps={eps}, t in "
                         f"[{t.min().item():.3g}, {t.max().item():.3g}]")
    path = slerp if spherical else (lambda a, b, s: torch.lerp(a, b, s))
    with torch.no_grad():
        here = features_of(images_at(path(start, end, t))).flatten(1)
        there = features_of(images_at(path(start, end, t + eps))).flatten(1)
    return ((here - there).pow(2).sum(1) / eps ** 2).mean().item()


def milliseconds_per_image(fn: Callable[..., object], images: torch.Tensor, *aligned: torch.Tensor,
                           repeats: int = 3, warmup: int = 8) -> float:
    """The wall time of ``fn(images, *aligned)`` (e.g. ``attack(x, y)``) per image, in milliseconds:

        ms per image = 1000 · (t_end − t_start) / (repeats · N)

    over ``repeats`` timed calls on all N images, after one untimed warm-up call on the first ``warmup``
    rows (lazy initialisation, cuDNN's algorithm search, caches; 0 skips it). ``aligned`` are tensors with
    one row per image (labels, targets), sliced with the images for the warm-up. When CUDA is in use the
    clock is read only after ``torch.cuda.synchronize()``, so that kernels still queued are counted."""
    check_count("repeats", repeats)
    check_count("warmup", warmup, minimum=0)
    if not isinstance(images, torch.Tensor) or images.dim() == 0 or len(images) == 0:
        raise ValueError("milliseconds_per_image needs a non-empty batch of images (a tensor with N ≥ 1 rows)")
    for tensor in aligned:
        if len(tensor) != len(images):
            raise ValueError(f"every extra argument needs one row per image: {len(images)} images, "
                             f"got a tensor of {len(tensor)} rows")
    if warmup:
        fn(images[:warmup], *(tensor[:warmup] for tensor in aligned))
    _synchronise()
    started = time.perf_counter()
    for _ in range(repeats):
        fn(images, *aligned)
    _synchronise()
    return 1000 * (time.perf_counter() - started) / (repeats * len(images))


def _synchronise() -> None:
    """Wait for every queued CUDA kernel, if CUDA is in use (a no-op on CPU)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
