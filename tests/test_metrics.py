import numpy as np
import pytest
import torch

from gancourse import evaluate
from gancourse.evaluate import embed, frechet_difference_interval, frechet_distance, milliseconds_per_image, sign_test
from gancourse.toys import GaussianRing


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_gaussians_with_known_parameters():
    # N(μ1, I) vs N(μ2, 4I) in d dims: ‖μ1 − μ2‖² + d(1 + 4 − 2·2) = ‖μ1 − μ2‖² + d
    generator = torch.Generator().manual_seed(1)
    d = 4
    a = torch.randn(200_000, d, generator=generator)
    b = 2 * torch.randn(200_000, d, generator=generator) + torch.tensor([1.0, 0.0, 0.0, 2.0])
    assert frechet_distance(a, b) == pytest.approx(5.0 + d, rel=0.02)


def test_frechet_distance_matches_scipys_matrix_square_root():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    generator = torch.Generator().manual_seed(2)
    a = torch.randn(300, 8, generator=generator) @ torch.randn(8, 8, generator=generator)
    b = torch.randn(300, 8, generator=generator) @ torch.randn(8, 8, generator=generator) + 0.5
    x, y = a.double().numpy(), b.double().numpy()
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy_linalg.sqrtm(cov_x @ cov_y).real
    expected = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(cov_x + cov_y - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_grows_with_corruption():
    generator = torch.Generator().manual_seed(3)
    clean = torch.rand(400, 10, generator=generator)
    reference = torch.rand(400, 10, generator=generator)
    distances = [frechet_distance(reference, clean + sigma * torch.randn(400, 10, generator=generator))
                 for sigma in (0.0, 0.1, 0.3, 1.0)]
    assert distances == sorted(distances) and distances[-1] > 10 * distances[0]


def test_frechet_distance_checks_its_inputs():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(torch.full((5, 3), float("nan")), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="N×D"):
        frechet_distance(torch.zeros(5), torch.zeros(5, 1))


def test_embed_batches_and_restores_the_mode():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.Dropout(0.5)).train()
    images = torch.rand(10, 1, 2, 2)
    features = embed(net, images, batch_size=3)
    assert features.shape == (10, 3) and net.training
    net.eval()
    assert torch.allclose(features, net(images))


def test_ring_centres_and_samples():
    ring = GaussianRing(modes=8, radius=2.0, std=0.02)
    centers = ring.centers()
    assert centers.shape == (8, 2)
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(centers[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    points, modes = ring.sample(4000, torch.Generator().manual_seed(0))
    assert points.shape == (4000, 2) and set(modes.tolist()) == set(range(8))


def test_real_samples_cover_every_mode_with_high_quality():
    ring = GaussianRing()
    points, _ = ring.sample(5000, torch.Generator().manual_seed(0))
    covered, quality = ring.coverage(points)
    assert covered == 8 and quality == pytest.approx(1 - np.exp(-4.5), abs=0.005)  # P(‖N(0, σ²I₂)‖ ≤ 3σ)


def test_a_collapsed_generator_covers_one_mode():
    ring = GaussianRing()
    collapsed = ring.centers()[3] + 0.01 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    assert ring.coverage(collapsed) == (1, pytest.approx(1.0))
    between = torch.zeros(1000, 2)  # all mass at the centre of the ring: no mode, no quality
    assert ring.coverage(between) == (0, 0.0)


def test_mode_shares_count_only_good_samples_and_agree_with_coverage():
    ring = GaussianRing()
    centers = ring.centers()
    points = torch.cat([centers[2].expand(30, 2), centers[5].expand(10, 2), torch.zeros(60, 2)])
    shares = ring.mode_shares(points)                        # 30 and 10 of 100 on modes 2 and 5; 60 between modes
    assert shares.tolist() == pytest.approx([0, 0, 0.3, 0, 0, 0.1, 0, 0])
    covered, quality = ring.coverage(points)
    assert covered == int((shares >= 0.01).sum()) == 2 and quality == pytest.approx(float(shares.sum()))
    random = torch.randn(500, 2, generator=torch.Generator().manual_seed(1)) * 2
    assert ring.coverage(random)[1] == pytest.approx(float(ring.mode_shares(random).sum()))


def test_ring_rejects_bad_arguments():
    with pytest.raises(ValueError, match="std > 0"):
        GaussianRing(std=0.0)
    with pytest.raises(ValueError, match="N×2"):
        GaussianRing().coverage(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="N ≥ 1"):
        GaussianRing().mode_shares(torch.zeros(0, 2))


def test_normal_pdf_known_values_and_mass():
    from gancourse.toys import normal_pdf

    assert normal_pdf(torch.tensor(2.0), 2.0, 0.5).item() == pytest.approx(1 / (0.5 * np.sqrt(2 * np.pi)))
    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    assert (normal_pdf(grid, 1.0, 2.0).sum() * (grid[1] - grid[0])).item() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="positive"):
        normal_pdf(grid, 0.0, 0.0)


def test_ring_gan_setups_follow_their_papers():
    from gancourse.models.toy import MLPDiscriminator, MLPGenerator
    from gancourse.toys import RING_GAN_KINDS, ring_gan_setup

    settings = {}
    for kind in RING_GAN_KINDS:
        setup = ring_gan_setup(kind, MLPGenerator(2, 2), MLPDiscriminator(2))
        settings[kind] = (setup.loss.name, setup.weight_clip, setup.gradient_penalty_weight,
                          type(setup.d_optimizer).__name__, setup.steps_for(0), setup.steps_for(30))
    assert settings == {"GAN": ("non-saturating", None, 0.0, "Adam", 1, 1),
                        "WGAN": ("wasserstein", 0.01, 0.0, "RMSprop", 100, 5),
                        "WGAN-GP": ("wasserstein", None, 0.1, "Adam", 5, 5)}
    with pytest.raises(ValueError, match="GAN, WGAN, WGAN-GP"):
        ring_gan_setup("LSGAN", MLPGenerator(2, 2), MLPDiscriminator(2))


def test_train_ring_gan_records_its_curve_and_samples():
    from gancourse.toys import train_ring_gan

    run = train_ring_gan(GaussianRing(), "GAN", seed=0, steps=6, every=3, sample_steps=(2, 6))
    assert [point[0] for point in run.curve] == [3, 6]
    assert sorted(run.samples) == [2, 6] and run.samples[6].shape == (2000, 2)
    again = train_ring_gan(GaussianRing(), "GAN", seed=0, steps=6, every=3, sample_steps=(2, 6))
    assert torch.equal(again.samples[6], run.samples[6])  # seeded
    with pytest.raises(ValueError, match="every"):
        train_ring_gan(GaussianRing(), "GAN", seed=0, steps=6, every=0)


def test_penultimate_features_drop_the_last_layer():
    from gancourse.evaluate import penultimate_features
    from gancourse.models.classifiers import build_classifier

    features = penultimate_features(build_classifier("A").eval())
    assert features(torch.rand(3, 1, 28, 28)).shape == (3, 128)
    with pytest.raises(TypeError, match="nn.Sequential"):
        penultimate_features(torch.nn.Linear(2, 2))


def test_wasserstein_1d_known_answers_and_an_independent_check():
    from gancourse.evaluate import wasserstein_1d

    sample = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    assert wasserstein_1d(sample, sample + 0.7) == pytest.approx(0.7, abs=1e-6)
    assert wasserstein_1d(sample, sample[torch.randperm(1000)]) == pytest.approx(0.0, abs=1e-7)
    scipy_stats = pytest.importorskip("scipy.stats")
    other = 2 * torch.randn(1000, generator=torch.Generator().manual_seed(1)) + 1
    expected = scipy_stats.wasserstein_distance(sample.numpy(), other.numpy())
    assert wasserstein_1d(sample, other) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="equal size"):
        wasserstein_1d(sample, sample[:10])


def test_roc_auc_agrees_with_scipys_mann_whitney_u_including_ties():
    from scipy.stats import mannwhitneyu

    from gancourse.evaluate import roc_auc
    generator = torch.Generator().manual_seed(0)
    negative = torch.randint(0, 5, (300,), generator=generator).float()
    positive = torch.randint(1, 7, (200,), generator=generator).float()
    expected = mannwhitneyu(positive.numpy(), negative.numpy()).statistic / (300 * 200)
    assert roc_auc(negative, positive) == pytest.approx(expected, abs=1e-9)
    assert roc_auc(torch.zeros(3), torch.ones(2)) == 1.0 and roc_auc(torch.ones(3), torch.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        roc_auc(torch.tensor([float("nan")]), torch.ones(1))


def test_roc_curve_runs_from_nothing_to_everything_and_its_area_is_the_auc():
    from gancourse.evaluate import roc_auc, roc_curve
    generator = torch.Generator().manual_seed(1)
    negative, positive = torch.randn(400, generator=generator), torch.randn(300, generator=generator) + 1
    fpr, tpr = roc_curve(negative, positive)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert (fpr.diff() >= 0).all() and (tpr.diff() >= 0).all()
    area = torch.trapezoid(tpr, fpr).item()
    assert area == pytest.approx(roc_auc(negative, positive), abs=1e-9)


class FakeClock:
    """A perf_counter that returns the given readings in turn and records when it was read."""

    def __init__(self, readings: list[float], events: list[str]) -> None:
        self.readings, self.events = iter(readings), events

    def perf_counter(self) -> float:
        self.events.append("clock")
        return next(self.readings)


def test_milliseconds_per_image_times_the_repeats_after_a_warm_up(monkeypatch):
    events, calls = [], []
    monkeypatch.setattr(evaluate, "time", FakeClock([10.0, 10.6], events))

    def attack(images, labels):
        events.append("fn")
        calls.append((len(images), len(labels)))

    images, labels = torch.rand(20, 1, 4, 4), torch.arange(20)
    kept = images.clone()
    ms = milliseconds_per_image(attack, images, labels, repeats=3, warmup=8)
    assert isinstance(ms, float) and ms == pytest.approx(1000 * 0.6 / (3 * 20))   # 10 ms per image
    assert calls == [(8, 8), (20, 20), (20, 20), (20, 20)]                     # warm-up on 8 rows, then 3 timed
    assert events == ["fn", "clock", "fn", "fn", "fn", "clock"]                  # the warm-up is not timed
    assert torch.equal(images, kept)
    events.clear()
    monkeypatch.setattr(evaluate, "time", FakeClock([0.0, 1.0], events))
    assert milliseconds_per_image(lambda x: events.append("fn"), images, repeats=1, warmup=0) == pytest.approx(50.0)
    assert events == ["clock", "fn", "clock"]


def test_milliseconds_per_image_synchronises_cuda_around_the_clock(monkeypatch):
    events = []
    monkeypatch.setattr(evaluate, "time", FakeClock([0.0, 1.0], events))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append("sync"))
    milliseconds_per_image(lambda x: events.append("fn"), torch.rand(4, 1, 2, 2), repeats=2)
    assert events == ["fn", "sync", "clock", "fn", "fn", "sync", "clock"]   # queued kernels are waited for


def test_milliseconds_per_image_of_real_work_is_positive_and_checks_its_inputs():
    images = torch.rand(6, 1, 8, 8)
    assert milliseconds_per_image(lambda x: x.flatten(1) @ x.flatten(1).T, images) > 0
    with pytest.raises(ValueError, match="one row per image"):
        milliseconds_per_image(lambda x, y: None, images, torch.arange(5))
    with pytest.raises(ValueError, match="repeats"):
        milliseconds_per_image(lambda x: None, images, repeats=0)
    with pytest.raises(ValueError, match="non-empty"):
        milliseconds_per_image(lambda x: None, images[:0])


@pytest.mark.parametrize("successes, n", [(0, 50), (1, 50), (17, 50), (49, 50), (50, 50), (312, 10_000), (3, 7)])
def test_wilson_interval_agrees_with_scipy(successes, n):
    from scipy.stats import binomtest

    expected = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = evaluate.wilson_interval(successes, n)
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert 0 <= low <= successes / n <= high <= 1


def test_wilson_interval_narrows_with_n_and_refuses_rates():
    widths = [np.subtract(*evaluate.wilson_interval(n // 4, n)[::-1]) for n in (40, 400, 4_000)]
    assert widths[0] > 3 * widths[1] > 9 * widths[2] > 0          # about 1/√n
    with pytest.raises(TypeError, match="counts"):
        evaluate.wilson_interval(0.3, 50)
    with pytest.raises(ValueError, match="successes"):
        evaluate.wilson_interval(51, 50)


def _delong_by_pairs(negative: torch.Tensor, positive: torch.Tensor) -> tuple[float, float]:
    """DeLong's AUC and standard error from the full n₊×n₋ table of ψ (no ranks): the independent reference."""
    psi = (positive[:, None] > negative[None, :]).double() + 0.5 * (positive[:, None] == negative[None, :]).double()
    per_positive, per_negative = psi.mean(1), psi.mean(0)
    variance = per_positive.var() / len(positive) + per_negative.var() / len(negative)
    return psi.mean().item(), variance.sqrt().item()


def test_roc_auc_interval_is_delongs_computed_from_all_pairs_including_ties():
    from gancourse.evaluate import roc_auc, roc_auc_interval
    generator = torch.Generator().manual_seed(3)
    negative = torch.randint(0, 6, (150,), generator=generator).float()
    positive = torch.randint(2, 9, (90,), generator=generator).float()
    auc, standard_error = _delong_by_pairs(negative, positive)
    assert roc_auc(negative, positive) == pytest.approx(auc, abs=1e-12)
    low, high = roc_auc_interval(negative, positive)
    assert (low + high) / 2 == pytest.approx(auc, abs=1e-12)                   # symmetric around the AUC
    assert (high - low) / 2 == pytest.approx(1.959963984540054 * standard_error, rel=1e-9)
    assert roc_auc_interval(negative, positive, z=1.0)[1] - auc == pytest.approx(standard_error, rel=1e-9)


def test_roc_auc_interval_narrows_with_n_stays_in_the_unit_interval_and_refuses_too_few_scores():
    from gancourse.evaluate import roc_auc_interval
    generator = torch.Generator().manual_seed(4)
    small = roc_auc_interval(torch.randn(40, generator=generator), torch.randn(40, generator=generator) + 1)
    large = roc_auc_interval(torch.randn(4000, generator=generator), torch.randn(4000, generator=generator) + 1)
    assert large[1] - large[0] < (small[1] - small[0]) / 5                     # SE ∝ 1/√n: 10× the width at 100× n
    assert large[0] < 0.7602 < large[1]                                         # Φ(1/√2), the true AUC
    assert roc_auc_interval(torch.zeros(5), torch.ones(5)) == (1.0, 1.0)        # separable: SE = 0, stated in the docstring
    near_one = roc_auc_interval(torch.arange(10.0), torch.arange(10.0) + 8.5)
    assert 0.0 <= near_one[0] < near_one[1] == 1.0
    with pytest.raises(ValueError, match="at least two"):
        roc_auc_interval(torch.zeros(1), torch.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc_interval(torch.tensor([float("nan"), 0.0]), torch.ones(2))


def test_silhouette_iou_and_brightness_known_answers():
    from gancourse.evaluate import brightness, silhouette_iou
    a = torch.zeros(3, 1, 4, 4)
    b = torch.zeros(3, 1, 4, 4)
    a[0, :, :2, :] = 1.0           # top half
    b[0, :, :, :2] = 0.5           # left half: overlap 4 of 12 pixels
    a[1, :, :2, :] = 0.05          # below the threshold: an empty silhouette …
    b[1] = 0.0                     # … against an empty one: identical shapes
    a[2, :, :2, :] = 1.0
    b[2, :, :2, :] = 0.3           # same shape, other brightness
    iou = silhouette_iou(a, b)
    assert iou.tolist() == pytest.approx([4 / 12, 1.0, 1.0])
    assert brightness(a).tolist() == pytest.approx([0.5, 0.025, 0.5])
    before = a.clone()
    silhouette_iou(a, b)
    assert torch.equal(a, before)
    with pytest.raises(ValueError, match="one shape"):
        silhouette_iou(a, b[:2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brightness(a * 3)


def test_frechet_difference_interval_is_zero_for_the_same_set():
    features = torch.randn(300, 6, generator=torch.Generator().manual_seed(1))
    reference = torch.randn(300, 6, generator=torch.Generator().manual_seed(2))
    gap, low, high = frechet_difference_interval(features, features.clone(), reference, resamples=50)
    assert gap == pytest.approx(0.0, abs=1e-9)
    assert low < 0 < high            # the same set drawn twice: the gap is pure resampling noise


def test_frechet_difference_interval_separates_a_clear_gap_and_not_a_tiny_one():
    generator = torch.Generator().manual_seed(3)
    reference, near = torch.randn(400, 5, generator=generator), torch.randn(400, 5, generator=generator)
    far = torch.randn(400, 5, generator=generator) + 1.0        # mean shifted by 1 in each of 5 dimensions: d ≈ 5
    gap, low, high = frechet_difference_interval(far, near, reference, resamples=100)
    assert gap > 3 and 0 < low <= gap <= high
    slightly = torch.randn(400, 5, generator=generator) + 0.02
    _, low, high = frechet_difference_interval(slightly, near, reference, resamples=100)
    assert low < 0 < high


def test_frechet_difference_interval_is_reproducible_and_leaves_its_inputs_alone():
    generator = torch.Generator().manual_seed(4)
    a, b, reference = (torch.randn(200, 4, generator=generator) for _ in range(3))
    copies = [t.clone() for t in (a, b, reference)]
    first = frechet_difference_interval(a, b, reference, resamples=30, seed=7)
    assert frechet_difference_interval(a, b, reference, resamples=30, seed=7) == first
    assert frechet_difference_interval(a, b, reference, resamples=30, seed=8) != first
    assert all(torch.equal(t, c) for t, c in zip((a, b, reference), copies, strict=True))
    with pytest.raises(ValueError, match="confidence"):
        frechet_difference_interval(a, b, reference, confidence=1.5)
    with pytest.raises(ValueError, match="resamples"):
        frechet_difference_interval(a, b, reference, resamples=0)


def test_a_paired_frechet_interval_keeps_the_pairing_and_is_narrower():
    """Two sets made from the same rows (b = a plus a little per-row noise): redrawn with shared indices, the
    paired gap varies far less than the unpaired one, and a clear shift is separated by both; the same set twice
    gives exactly 0 in every paired round."""
    generator = torch.Generator().manual_seed(5)
    reference, a = torch.randn(400, 5, generator=generator), torch.randn(400, 5, generator=generator)
    b = a + 0.01 * torch.randn(400, 5, generator=generator)
    gap, paired_low, paired_high = frechet_difference_interval(b, a, reference, resamples=100, paired=True)
    _, low, high = frechet_difference_interval(b, a, reference, resamples=100)
    assert paired_low <= gap <= paired_high and low < 0 < high
    assert paired_high - paired_low < 0.1 * (high - low)
    gap, low, _ = frechet_difference_interval(a + 1.0, a, reference, resamples=100, paired=True)
    assert gap > 3 and low > 0
    assert frechet_difference_interval(a, a.clone(), reference, resamples=20, paired=True) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same number of rows"):
        frechet_difference_interval(a, a[:300], reference, paired=True)


def test_sign_test_known_answers_and_symmetry():
    assert sign_test(0, 0) == 1.0                               # no discordant pair: no evidence
    assert sign_test(5, 0) == pytest.approx(2 * 0.5 ** 5)        # 0.0625: five of five is not yet p < 0.05
    assert sign_test(6, 0) == pytest.approx(2 * 0.5 ** 6)
    assert sign_test(3, 3) == 1.0
    assert sign_test(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)   # C(12, k) for k ≤ 2
    assert sign_test(2, 10) == sign_test(10, 2)


def test_sign_test_matches_scipys_binomial_test():
    stats = pytest.importorskip("scipy.stats")
    for wins, losses in ((7, 1), (15, 9), (40, 22), (0, 9)):
        expected = stats.binomtest(wins, wins + losses, 0.5).pvalue
        assert sign_test(wins, losses) == pytest.approx(expected, rel=1e-9)


def test_sign_test_rejects_what_is_not_a_count():
    for bad in ((-1, 2), (1.5, 2), (True, 2)):
        with pytest.raises(ValueError, match="count"):
            sign_test(*bad)


def test_late_gain_compares_the_last_two_tenths_known_answers():
    curve = [0.0] * 80 + [0.5] * 10 + [0.52] * 10               # w = 10: before = 0.5, last = 0.52
    gain = evaluate.late_gain(curve)
    assert (gain.window, gain.before, gain.last) == (10, 0.5, pytest.approx(0.52))
    assert gain.still_rising                                    # two points ≥ one point
    flat = evaluate.late_gain([0.9] * 5 + [0.3] * 90 + [0.305] * 10)   # w = 10 of 105: the first 5 never count
    assert (flat.before, flat.last) == (pytest.approx(0.3), pytest.approx(0.305)) and not flat.still_rising
    assert evaluate.late_gain([1.0, 2.0, 3.0, 4.0], parts=2) == evaluate.LateGain(2, 1.5, 3.5)


def test_late_gain_refuses_a_curve_too_short_to_split():
    with pytest.raises(ValueError, match="at least 10 values"):
        evaluate.late_gain([0.1] * 9)
    with pytest.raises(ValueError, match="parts must be at least 2"):
        evaluate.late_gain([0.1] * 9, parts=1)
