"""The defenses' two interfaces (gancourse.defenses.base): every preprocessing defense keeps one contract
(checked input, networks frozen in eval mode and restored, device handling, output of the input's shape, a
documented way to get a gradient through it), and every detecting defense one protocol (scores, a validated
threshold, rejects = scores > threshold, calibration from a false-positive rate); the matrix's rows use both."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gancourse.attacks.bpda import BPDA
from gancourse.defenses.ape_gan import APEGAN
from gancourse.defenses.base import Preprocessor, ThresholdDetector, input_channels
from gancourse.defenses.defense_gan import DefenseGAN
from gancourse.defenses.detector import GuardedClassifier, SafetyNet, detection_scores
from gancourse.defenses.magnet import MagNet, magnet_autoencoder
from gancourse.evaluate import predict
from gancourse.matrix import REJECTED, Defense
from gancourse.models.ape_gan import APEGenerator

SIDE = 8


def tiny_generator() -> nn.Module:
    """G: 4-d latents → 1×8×8 images in [0, 1]."""
    return nn.Sequential(nn.Linear(4, SIDE * SIDE), nn.Sigmoid(), nn.Unflatten(1, (1, SIDE, SIDE)))


def ape_gan() -> APEGAN:
    return APEGAN(APEGenerator(1, width=4))


def magnet() -> MagNet:
    return MagNet(magnet_autoencoder(1))


def defense_gan() -> DefenseGAN:
    return DefenseGAN(tiny_generator(), latent_dim=4, steps=3, restarts=2)


def safety_net() -> SafetyNet:
    return SafetyNet(nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 2)))


PREPROCESSORS = {"APE-GAN": ape_gan, "MagNet": magnet, "Defense-GAN": defense_gan}
DETECTORS = {"MagNet": magnet, "Defense-GAN": defense_gan, "safety net": safety_net}


def images(count: int = 6, channels: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, channels, SIDE, SIDE, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(params=list(PREPROCESSORS), ids=list(PREPROCESSORS))
def preprocessor(request) -> Preprocessor:
    torch.manual_seed(0)
    return PREPROCESSORS[request.param]()


@pytest.fixture(params=list(DETECTORS), ids=list(DETECTORS))
def detector(request) -> ThresholdDetector:
    torch.manual_seed(0)
    return DETECTORS[request.param]()


# ---- every preprocessing defense keeps the same contract ----

def test_a_preprocessor_freezes_its_networks_during_the_call_and_restores_them(preprocessor):
    networks = list(preprocessor.children())
    assert networks and isinstance(preprocessor.differentiable, bool)
    seen = []
    for network in networks:
        network.train()
        network.register_forward_pre_hook(lambda module, _: seen.append(
            (module.training, any(p.requires_grad for p in module.parameters()))))
    x = images()
    kept = x.clone()
    output = preprocessor(x)
    assert seen and all(mode == (False, False) for mode in seen)              # eval mode, parameters frozen
    assert all(network.training for network in networks)                      # modes put back
    assert all(p.requires_grad and p.grad is None for p in preprocessor.parameters())
    assert torch.equal(x, kept)
    assert output.shape == x.shape and output.device == x.device
    assert 0 <= output.min() and output.max() <= 1


@pytest.mark.parametrize(("bad", "message"), [
    (torch.full((2, 1, SIDE, SIDE), float("nan")), "NaN"),
    (images() * 3, "in \\[0, 1\\]"),
    (torch.rand(1, SIDE, SIDE), "N×C×H×W"),
    (torch.randint(0, 255, (2, 1, SIDE, SIDE)), "floats"),
])
def test_a_preprocessor_rejects_bad_images(preprocessor, bad, message):
    with pytest.raises(ValueError, match=message):
        preprocessor(bad)


def test_a_channel_mismatch_is_named_before_the_networks_run(preprocessor):
    message = "generator makes" if isinstance(preprocessor, DefenseGAN) else "take 1-channel images, got 3 channels"
    with pytest.raises(ValueError, match=message):
        preprocessor(images(channels=3))


def test_float64_images_are_refused_with_the_conversion(preprocessor):
    with pytest.raises(ValueError, match=r"float64.*\.float\(\)"):
        preprocessor(images().double())


def test_the_channel_count_comes_from_the_first_convolution():
    assert input_channels(APEGenerator(3)) == 3 and input_channels(magnet_autoencoder(1)) == 1
    assert input_channels(nn.Linear(2, 2)) is None
    assert APEGAN(APEGenerator(3)).channels == 3 and MagNet(magnet_autoencoder(3)).channels == 3


def test_an_output_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="turned images of shape \\(2, 1, 7, 7\\) into \\(2, 1, 6, 6\\)"):
        magnet()(torch.rand(2, 1, 7, 7))                       # pooled to 3×3, upsampled to 6×6


def test_attackable_is_the_preprocessor_itself_or_bpda(preprocessor):
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 3))
    x = images().requires_grad_(True)
    target = nn.Sequential(preprocessor.attackable(), classifier)
    gradient, = torch.autograd.grad(target(x)[:, 0].sum(), x)
    if preprocessor.differentiable:
        assert preprocessor.attackable() is preprocessor
        assert gradient.abs().sum() > 0
    else:
        assert isinstance(preprocessor.attackable(), BPDA) and preprocessor.attackable().preprocessor is preprocessor
        # the identity replaces g's Jacobian: the gradient is the classifier's own, at g(x)
        direct, = torch.autograd.grad(classifier(x)[:, 0].sum(), x)
        assert torch.allclose(gradient, direct)
        with pytest.raises(RuntimeError, match="attackable\\(\\)"):
            preprocessor(x)                                     # differentiating g itself is refused
        with torch.no_grad():
            assert preprocessor(x).shape == x.shape             # evaluating it is not


class Recording(Preprocessor):
    """A preprocessor whose network lives on the meta device; it records where its images arrive."""

    differentiable = True

    def __init__(self) -> None:
        super().__init__(1)
        self.network = nn.Conv2d(1, 1, 1, device="meta")
        self.seen: torch.device | None = None

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        self.seen = images.device
        return torch.zeros(images.shape)


def test_the_images_reach_the_networks_device():
    assert Recording()(images()).device.type == "cpu"
    recording = Recording()
    recording(images())
    assert recording.seen == torch.device("meta")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_preprocessor_on_the_gpu_takes_and_returns_cpu_images(preprocessor):
    x = images()
    on_cpu = preprocessor(x)
    preprocessor.cuda()
    on_gpu = preprocessor(x)
    assert on_gpu.device == x.device and torch.allclose(on_gpu, on_cpu, atol=1e-4)
    assert preprocessor(x.cuda()).device == x.cuda().device


# ---- every detecting defense has the same protocol ----

def test_rejects_is_scores_above_the_threshold(detector):
    x = images(40)
    scores = detector.scores(x)
    assert scores.shape == (40,) and scores.device == x.device
    detector.threshold = scores.median().item()
    assert torch.equal(detector.rejects(x), scores > scores.median())


def test_calibration_sets_the_quantile_of_clean_scores(detector):
    clean = images(40, seed=1)
    threshold = detector.calibrate(clean, false_positive_rate=0.25)
    assert threshold == detector.threshold
    assert threshold == pytest.approx(torch.quantile(detector.scores(clean).double(), 0.75).item())
    assert detector.rejects(clean).float().mean() == pytest.approx(0.25)    # 40 − ⌈39 · 0.75⌉ = 10 images
    with pytest.raises(ValueError, match="false_positive_rate"):
        detector.calibrate(clean, false_positive_rate=1.0)


def test_an_infinite_threshold_turns_the_detector_off(detector):
    detector.threshold = math.inf
    assert not detector.rejects(images()).any()
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        detector.rejects(images() * 3)                          # the images are still checked


@pytest.mark.parametrize(("threshold", "message"), [
    (float("nan"), "NaN"), (-math.inf, "reject every image"), ("0.1", "must be a number"), (True, "must be a number"),
])
def test_a_threshold_that_would_silently_disable_or_saturate_the_detector_is_refused(detector, threshold, message):
    detector.threshold = 0.5
    with pytest.raises(ValueError, match=message):
        detector.threshold = threshold
    assert detector.threshold == 0.5


@pytest.mark.parametrize("make", [magnet, defense_gan], ids=["MagNet", "Defense-GAN"])
def test_a_negative_threshold_on_reconstruction_errors_is_refused(make):
    defense = make()
    with pytest.raises(ValueError, match="at least 0.0"):
        defense.threshold = -0.1
    defense.threshold = 0.0                                     # rejects every image not reconstructed exactly
    assert defense.rejects(images()).all()


def test_the_constructors_validate_the_threshold():
    with pytest.raises(ValueError, match="NaN"):
        MagNet(magnet_autoencoder(1), threshold=float("nan"))
    with pytest.raises(ValueError, match="at least 0.0"):
        DefenseGAN(tiny_generator(), latent_dim=4, threshold=-1.0)
    with pytest.raises(ValueError, match="-inf"):
        SafetyNet(nn.Linear(2, 2), threshold=-math.inf)
    assert MagNet(magnet_autoencoder(1)).threshold == math.inf        # off until calibrated


def test_the_safety_net_rejects_exactly_where_the_guarded_classifier_does():
    torch.manual_seed(0)
    net = safety_net()
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 3))
    x = images(64)
    assert net.threshold == 0.0                                  # d's own decision
    assert torch.equal(net.scores(x), detection_scores(net.network, x))
    rejected = net.rejects(x)
    assert 0 < rejected.sum() < len(x)
    assert torch.equal(rejected, predict(GuardedClassifier(classifier, net.network), x) == 3)
    net.threshold = -1.0                                         # logit differences: a negative τ is meaningful
    assert torch.equal(net.rejects(x), net.scores(x) > -1.0)


# ---- the matrix's rows are built from the two interfaces ----

def test_a_matrix_row_rejects_where_the_detector_does_and_classifies_the_rest():
    torch.manual_seed(0)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 3)).eval()
    defense = magnet()
    x = images(20)
    defense.calibrate(x, false_positive_rate=0.5)
    row = Defense.around("MagNet", classifier, preprocessor=defense, detector=defense)
    predicted, rejected = row.classify(x), defense.rejects(x)
    assert torch.equal(predicted == REJECTED, rejected) and 0 < rejected.sum() < len(x)
    assert torch.equal(predicted[~rejected], predict(classifier, defense(x))[~rejected])
    assert row.oblivious_target is classifier and row.adaptive_target[0] is defense


def test_a_matrix_row_attacks_through_bpda_only_where_needed():
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 3)).eval()
    projected = Defense.around("Defense-GAN", classifier, preprocessor=defense_gan())
    assert isinstance(projected.adaptive_target[0], BPDA)
    purified = Defense.around("APE-GAN", classifier, preprocessor=ape_gan())
    assert isinstance(purified.adaptive_target[0], APEGAN)
    guarded = GuardedClassifier(classifier, safety_net().network)
    detected = Defense.around("detector", classifier, detector=safety_net(), adaptive_target=guarded)
    assert detected.adaptive_target is guarded and detected.oblivious_target is classifier
    bare = Defense.around("none", classifier)
    assert bare.adaptive_target is classifier and torch.equal(bare.classify(images()), predict(classifier, images()))
