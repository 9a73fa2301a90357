"""SeedStack: S toy MLPs trained as one network must behave exactly like S separate ones."""

import pytest
import torch

from gancourse.losses import gradient_penalty
from gancourse.models.toy import MLPDiscriminator, MLPGenerator, SeedStack
from gancourse.toys import GaussianRing, ring_gan_setup, train_ring_gans
from gancourse.train.gan import discriminator_step


def _copies(kind, count=3):
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        models.append(MLPGenerator(2, 2, hidden=16, layers=3) if kind == "G" else MLPDiscriminator(2, hidden=16, layers=3))
    return models


def test_each_block_of_rows_goes_through_its_own_copy():
    for kind in "GD":
        copies = _copies(kind)
        stack = SeedStack(copies)
        x = torch.randn(12, 2)
        expected = torch.cat([model(x[4 * i:4 * i + 4]) for i, model in enumerate(copies)])
        assert stack(x).shape == expected.shape
        assert torch.allclose(stack(x), expected, atol=1e-6)
    assert SeedStack(_copies("G")).latent_dim == 2 and SeedStack(_copies("D")).data_dim == 2


def test_each_copy_gets_exactly_its_own_gradient_with_the_penalty():
    copies = _copies("D")
    stack = SeedStack(copies)
    real, fake = torch.randn(12, 2), torch.randn(12, 2) + 1
    torch.manual_seed(5)
    loss = stack(fake).mean() - stack(real).mean() + gradient_penalty(stack, real, fake, 0.1)
    loss.backward()
    torch.manual_seed(5)
    epsilon = torch.rand(12, 1)           # the ε the penalty drew, one per row
    for index, model in enumerate(copies):
        rows = slice(4 * index, 4 * index + 4)
        mixed = (epsilon[rows] * real[rows] + (1 - epsilon[rows]) * fake[rows]).requires_grad_(True)
        (gradient,) = torch.autograd.grad(model(mixed).sum(), mixed, create_graph=True)
        alone = model(fake[rows]).mean() - model(real[rows]).mean() + 0.1 * ((gradient.norm(dim=1) - 1) ** 2).mean()
        alone.backward()
        linears = [layer for layer in model.net if isinstance(layer, torch.nn.Linear)]
        for layer, weight, bias in zip(linears, stack.weights, stack.biases, strict=True):
            assert torch.allclose(weight.grad[index], layer.weight.grad.T, atol=1e-6)
            assert torch.allclose(bias.grad[index, 0], layer.bias.grad, atol=1e-6)


def test_a_training_step_of_the_stack_is_each_copys_own_step():
    generators, discriminators = _copies("G", 2), _copies("D", 2)
    stack = ring_gan_setup("WGAN", SeedStack(generators), SeedStack(discriminators))   # RMSprop and clipping
    real = torch.randn(8, 2)
    torch.manual_seed(11)
    discriminator_step(stack, real, torch.zeros(8, dtype=torch.long))
    torch.manual_seed(11)
    z = torch.randn(8, 2)                  # the latents the step drew, block by block
    after = stack.discriminator.unstack()
    for index, (generator, discriminator) in enumerate(zip(generators, discriminators, strict=True)):
        alone = ring_gan_setup("WGAN", generator, discriminator)
        rows = slice(4 * index, 4 * index + 4)
        with torch.no_grad():
            fake = generator(z[rows])
        loss = alone.loss.discriminator(discriminator(real[rows]), discriminator(fake))
        alone.d_optimizer.zero_grad()
        loss.backward()
        alone.d_optimizer.step()
        for p in discriminator.parameters():
            p.data.clamp_(-0.01, 0.01)
        for mine, theirs in zip(after[index].parameters(), discriminator.parameters(), strict=True):
            assert torch.allclose(mine, theirs, atol=1e-6)


def test_unstack_returns_separate_models_and_the_input_is_untouched():
    copies = _copies("G")
    before = [p.clone() for p in copies[1].parameters()]
    stack = SeedStack(copies)
    with torch.no_grad():
        stack.weights[0][1].add_(1.0)
    models = stack.unstack()
    assert all(torch.equal(a, b) for a, b in zip(before, copies[1].parameters(), strict=True))   # copies kept
    assert torch.allclose(models[1].net[0].weight, copies[1].net[0].weight + 1.0)
    assert torch.equal(models[0].net[0].weight, copies[0].net[0].weight)
    assert len(list(stack.parameters())) == 8                       # stacked weights only, no template


def test_seed_stack_rejects_what_it_cannot_stack():
    with pytest.raises(ValueError, match="at least one"):
        SeedStack([])
    with pytest.raises(TypeError, match="one toy model class"):
        SeedStack([*_copies("G", 1), *_copies("D", 1)])
    with pytest.raises(ValueError, match="layer sizes"):
        SeedStack([MLPGenerator(2, 2, hidden=16), MLPGenerator(2, 2, hidden=8)])
    with pytest.raises(ValueError, match="multiple of 3"):
        SeedStack(_copies("G"))(torch.randn(10, 2))


def test_train_ring_gans_gives_each_seed_its_curve_samples_and_generator():
    runs = train_ring_gans(GaussianRing(), "GAN", (0, 1), steps=6, every=3, sample_steps=(2, 6))
    assert len(runs) == 2
    for run in runs:
        assert [point[0] for point in run.curve] == [3, 6] and sorted(run.samples) == [2, 6]
        assert run.samples[6].shape == (2000, 2) and isinstance(run.generator, MLPGenerator)
    assert not torch.equal(runs[0].samples[6], runs[1].samples[6])           # different seeds, different GANs
    again = train_ring_gans(GaussianRing(), "GAN", (0, 1), steps=6, every=3, sample_steps=(2, 6))
    assert torch.equal(again[1].samples[6], runs[1].samples[6])               # seeded
    sparse = train_ring_gans(GaussianRing(), "GAN", (0, 1), steps=6, every=6)
    assert torch.equal(sparse[1].generator.net[0].weight, runs[1].generator.net[0].weight)  # measuring changes nothing
    with pytest.raises(ValueError, match="distinct"):
        train_ring_gans(GaussianRing(), "GAN", (0, 0), steps=6, every=3)


def test_one_change_at_a_time_for_the_ring_experiments():
    for kind in ("GAN", "WGAN", "WGAN-GP"):
        setup = ring_gan_setup(kind, MLPGenerator(2, 2), MLPDiscriminator(2), learning_rate=1e-3)
        assert setup.g_optimizer.param_groups[0]["lr"] == setup.d_optimizer.param_groups[0]["lr"] == 1e-3
    with pytest.raises(ValueError, match="learning_rate"):
        ring_gan_setup("GAN", MLPGenerator(2, 2), MLPDiscriminator(2), learning_rate=0.0)
    small = train_ring_gans(GaussianRing(), "GAN", (0,), steps=2, every=2, sample_steps=(2,), discriminator_hidden=32)
    default = train_ring_gans(GaussianRing(), "GAN", (0,), steps=2, every=2, sample_steps=(2,))
    assert small[0].generator.net[0].out_features == 128                     # G unchanged …
    assert not torch.equal(small[0].samples[2], default[0].samples[2])        # … trained against another D
