"""A discriminator trained against a fixed generator starves the minimax loss of gradient; a critic under the
gradient penalty does not."""

from __future__ import annotations

import pytest
import torch

from gancourse.models.toy import MLPDiscriminator, MLPGenerator
from gancourse.saturation import generator_gradients


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    generator = MLPGenerator(4, 2, hidden=32)
    real = torch.randn(4096, 2) * 0.1 + torch.tensor([3.0, 3.0])     # far from what G makes

    def batches():
        while True:
            yield real[torch.randint(0, len(real), (128,))]
    return generator, batches(), torch.randn(256, 4)


@pytest.mark.slow
def test_a_trained_discriminator_starves_the_minimax_loss_but_a_critic_keeps_a_gradient():
    generator, batches, probe = _setup()
    before = [p.detach().clone() for p in generator.parameters()]
    readings = generator_gradients(generator, MLPDiscriminator(2, hidden=32), batches, [0, 100, 1000],
                                   kind="discriminator", probe=probe, lr=1e-3)
    minimax = [reading.norms["minimax"] for reading in readings]
    assert readings[-1].fake_output < 1e-3 < readings[0].fake_output           # D rejects the fakes
    assert minimax[-1] < max(minimax) / 50                                     # and G's minimax gradient vanishes
    assert readings[-1].norms["non-saturating"] > 1000 * minimax[-1]
    assert all(torch.equal(p, q) for p, q in zip(generator.parameters(), before, strict=True))   # G untouched
    generator, batches, probe = _setup()
    critic = [reading.norms["wasserstein"] for reading in generator_gradients(
        generator, MLPDiscriminator(2, hidden=32), batches, [0, 100, 1000], kind="critic", probe=probe, lr=1e-3,
        betas=(0.5, 0.9))]
    assert critic[-1] > max(critic) / 2                                        # no collapse


def test_bad_arguments_are_refused():
    generator, batches, probe = _setup()
    with pytest.raises(ValueError, match="kind"):
        generator_gradients(generator, MLPDiscriminator(2), batches, [0, 1], kind="judge", probe=probe)
    with pytest.raises(ValueError, match="increasing"):
        generator_gradients(generator, MLPDiscriminator(2), batches, [5, 1], kind="critic", probe=probe)
