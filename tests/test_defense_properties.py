"""Property-based tests (hypothesis) for the defenses: over random batch sizes, image sizes, settings and
values, every defense returns images of the input's shape in [0, 1], leaves its input untouched, treats
each image independently of the rest of the batch, and rejects bad input with a clear error."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gancourse.defenses.ape_gan import APEGAN
from gancourse.defenses.defense_gan import initial_latents, project
from gancourse.defenses.magnet import MagNet, magnet_autoencoder
from gancourse.models.ape_gan import APEGenerator


def tiny_generator(latent: int, side: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(latent, side * side), nn.Sigmoid(), nn.Unflatten(1, (1, side, side))).eval()


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 5), restarts=st.integers(1, 3), steps=st.integers(1, 6), latent=st.integers(2, 8),
       side=st.integers(3, 8), seed=st.integers(0, 2**16))
def test_defense_gan_projection_invariants(batch, restarts, steps, latent, side, seed):
    generator = tiny_generator(latent, side)
    images = torch.rand(batch, 1, side, side, generator=torch.Generator().manual_seed(seed))
    starts = initial_latents(batch, restarts, latent, generator=torch.Generator().manual_seed(seed))
    kept = images.clone()
    result = project(generator, images, starts, steps=steps)
    assert torch.equal(images, kept)
    assert result.reconstructions.shape == images.shape
    assert 0 <= result.reconstructions.min() and result.reconstructions.max() <= 1
    assert torch.equal(result.errors, result.restart_errors.min(1).values)        # best restart per image
    with torch.no_grad():                                                         # G(z*) is what is returned
        assert torch.allclose(generator(result.latents), result.reconstructions, atol=1e-6)
    alone = project(generator, images[-1:], starts[-1:], steps=steps)             # batch-independent
    assert torch.allclose(alone.reconstructions, result.reconstructions[-1:], atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 4), side=st.sampled_from([8, 12, 16, 28]), seed=st.integers(0, 2**16))
def test_purifiers_keep_shape_range_and_input_and_are_batch_independent(batch, side, seed):
    torch.manual_seed(seed)
    images = torch.rand(batch, 1, side, side)
    for defense in (APEGAN(APEGenerator(1)).eval(), MagNet(magnet_autoencoder(1)).eval()):
        kept = images.clone()
        with torch.no_grad():
            output = defense(images)
            alone = defense(images[:1])
        assert torch.equal(images, kept)
        assert output.shape == images.shape and 0 <= output.min() and output.max() <= 1
        assert torch.allclose(alone, output[:1], atol=1e-6)


@pytest.mark.parametrize(("images", "message"), [
    (torch.rand(2, 1, 8, 8) * 2, "in \\[0, 1\\]"),
    (torch.full((2, 1, 8, 8), float("nan")), "NaN"),
    (torch.rand(1, 8, 8), "N×C×H×W"),
    (torch.randint(0, 255, (2, 1, 8, 8)), "floats"),
])
def test_defenses_reject_bad_images_with_a_clear_message(images, message):
    generator = tiny_generator(4, 8)
    with pytest.raises(ValueError, match=message):
        project(generator, images, torch.zeros(len(images), 2, 4), steps=2)
    with pytest.raises(ValueError, match=message):
        APEGAN(APEGenerator(1))(images)


@pytest.mark.parametrize(("options", "message"), [
    ({"steps": 0}, "steps must be an integer ≥ 1"),
    ({"lr": -1.0}, "lr must be positive"),
    ({"momentum": float("nan")}, "momentum must be a finite number"),
    ({"decay_at": 0.0}, "decay_at"),
])
def test_projection_rejects_bad_settings(options, message):
    generator = tiny_generator(4, 8)
    with pytest.raises(ValueError, match=message):
        project(generator, torch.rand(2, 1, 8, 8), torch.zeros(2, 2, 4), **options)
    with pytest.raises(ValueError, match="starts must be N×R×latent"):
        project(generator, torch.rand(2, 1, 8, 8), torch.zeros(3, 2, 4))
