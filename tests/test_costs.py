"""The cost model: FLOP counts against hand counts, linearity in the batch, and predicted times."""

from __future__ import annotations

import pytest
import torch

from gancourse.costs import Workload, achieved_rate, classifier_step, count_flops, pgd_step, projection_pass
from gancourse.models.classifiers import build_classifier
from gancourse.models.wgan_gp import WGANGPGenerator

# 2 FLOPs (multiply, add) per weight per output position, layer by layer, counted from the architectures
GENERATOR_BY_HAND = (2 * 128 * 4096                 # Linear 128 → 256·4·4
                     + 2 * 256 * 128 * 25 * 4 * 4   # ConvT 5×5, 256 → 128, over its 4×4 input
                     + 2 * 128 * 64 * 25 * 7 * 7    # ConvT 5×5, 128 → 64, over the cropped 7×7
                     + 2 * 64 * 1 * 25 * 14 * 14)   # ConvT 5×5, 64 → 1, over 14×14
CLASSIFIER_A_BY_HAND = (2 * 1 * 64 * 25 * 28 * 28   # conv 5×5, 1 → 64, 'same' on 28×28
                        + 2 * 64 * 64 * 25 * 12 * 12  # conv 5×5 stride 2, 64 → 64, 'valid': 12×12
                        + 2 * 9216 * 128 + 2 * 128 * 10)


def test_forward_counts_agree_with_hand_counts_within_ten_percent():
    generator, classifier = WGANGPGenerator(128).eval(), build_classifier("A").eval()
    with torch.no_grad():
        generated = count_flops(lambda: generator(torch.zeros(1, 128)))
        classified = count_flops(lambda: classifier(torch.zeros(1, 1, 28, 28)))
    assert generated == pytest.approx(GENERATOR_BY_HAND, rel=0.1)
    assert classified == pytest.approx(CLASSIFIER_A_BY_HAND, rel=0.1)


def test_a_projection_step_is_a_generator_pass_forward_and_back_to_z():
    assert projection_pass().flops == pytest.approx(2 * GENERATOR_BY_HAND, rel=0.1)   # ≈ 96 MFLOP
    assert pgd_step("A").flops == pytest.approx(2 * CLASSIFIER_A_BY_HAND, rel=0.15)


def test_a_training_step_costs_in_proportion_to_its_batch():
    small, large = classifier_step("D", 32), classifier_step("D", 64)
    assert large.flops == pytest.approx(2 * small.flops, rel=0.02)
    assert classifier_step("A", 32).flops > 2.5 * 32 * CLASSIFIER_A_BY_HAND   # forward + two backward products


def test_a_workload_counts_what_its_run_does():
    weights = torch.randn(64, 32)
    work = Workload.counted("matmul", "one product", lambda: torch.randn(16, 64) @ weights)
    assert work.flops == 2 * 16 * 64 * 32
    assert achieved_rate(work.run, work.flops, repeats=1) > 0


def test_predicted_seconds_known_answer_and_bad_input():
    work = Workload("w", "unit", 10 ** 12, lambda: None)
    assert work.seconds(10, peak=1e13, efficiency=0.5) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="efficiency"):
        work.seconds(10, peak=1e13, efficiency=0)


def test_the_costs_command_prints_every_workload_with_a_prediction_per_card(capsys):
    from gancourse.cli import main
    from gancourse.costs import DEVICE_PEAKS

    assert main(["costs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(name + " ms" in lines[0] for name in DEVICE_PEAKS)
    assert any(line.startswith("WGAN-GP: generator step") for line in lines) and len(lines) == 9


def test_a_cgan_step_costs_what_chapter_03s_solution_says():
    """ex03-clock quotes 13.04 against 11.22 GFLOP for a step of batch 64 (cGAN, DCGAN): keep it true."""
    from torch.utils.data import DataLoader, TensorDataset

    from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from gancourse.train.gan import GANSetup, train_gan
    from gancourse.train.loop import endless

    counts = {}
    for classes in (0, 10):
        torch.manual_seed(0)
        G = DCGANGenerator(100, (1, 28, 28), num_classes=classes)
        D = DCGANDiscriminator((1, 28, 28), num_classes=classes)
        setup = GANSetup(G, D, torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4),
                         conditional=bool(classes))
        batches = endless(DataLoader(TensorDataset(torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))),
                                     batch_size=64))
        counts[classes] = count_flops(lambda s=setup, b=batches: train_gan(s, b, 1, progress_bar=False)) / 1e9
    assert counts[0] == pytest.approx(11.22, abs=0.01) and counts[10] == pytest.approx(13.04, abs=0.01)
