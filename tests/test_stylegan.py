"""The small StyleGAN: AdaIN statistics, style mixing drives exactly the layers it claims, noise and
truncation behave as the paper describes, R1's known answer, and training runs and resumes its average."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.models.stylegan import (
    STYLE_GROUPS,
    AdaIN,
    EqualConv2d,
    EqualLinear,
    MinibatchStdDev,
    StyleDiscriminator,
    StyleGenerator,
    mix_styles,
)
from gancourse.train.stylegan import mixed_latents, pad_to_32, r1_penalty, train_stylegan


@pytest.fixture
def generator():
    torch.manual_seed(0)
    g = StyleGenerator(1, latent_dim=16, mapping_layers=2, widths=(16, 16, 8, 8)).eval()
    for layer in g.layers:                                   # a trained-looking generator: styles and noise matter
        nn.init.normal_(layer.adain.affine.weight, std=0.5)
        nn.init.constant_(layer.noise.weight, 0.3)
    return g


def test_adain_sets_each_channel_to_the_style_statistics():
    torch.manual_seed(0)
    adain = AdaIN(3, w_dim=4)
    with torch.no_grad():
        adain.affine.weight.zero_()
        adain.affine.bias.copy_(torch.tensor([2.0, 0.5, 1.0, 0.3, -1.0, 0.0]))   # y_s = (2, .5, 1), y_b = (.3, −1, 0)
    x = 5 + 3 * torch.randn(2, 3, 16, 16)
    out = adain(x, torch.randn(2, 4))
    assert torch.allclose(out.mean((2, 3)), torch.tensor([[0.3, -1.0, 0.0]] * 2), atol=1e-5)
    assert torch.allclose(out.std((2, 3), unbiased=False), torch.tensor([[2.0, 0.5, 1.0]] * 2), atol=1e-3)


def test_shapes_range_and_bad_inputs(generator):
    z = torch.randn(3, 16)
    images = generator(z)
    assert images.shape == (3, 1, 32, 32) and images.min() >= 0 and images.max() <= 1
    assert StyleDiscriminator(1)(images).shape == (3,)
    with pytest.raises(ValueError, match="one w per layer"):
        generator.synthesise(torch.randn(3, 16))
    with pytest.raises(ValueError, match="N×16"):
        generator(torch.randn(3, 8))
    with pytest.raises(ValueError, match="does not exist"):
        mix_styles(torch.randn(1, 16), torch.randn(1, 16), [8])
    with pytest.raises(ValueError, match="pad 28×28"):
        StyleDiscriminator(1)(torch.rand(1, 1, 28, 28))


def test_style_mixing_changes_only_the_layers_it_names(generator):
    torch.manual_seed(1)
    w1, w2 = generator.map(torch.randn(2, 16)), generator.map(torch.randn(2, 16))
    noise = generator.noise_planes(2, torch.Generator().manual_seed(0))
    captured: dict[int, list[torch.Tensor]] = {}
    hooks = [layer.register_forward_hook(lambda m, i, o, k=k: captured.setdefault(k, []).append(o))
             for k, layer in enumerate(generator.layers)]
    with torch.no_grad():
        plain = generator.synthesise(mix_styles(w1, w1, []), noise)
        fine = generator.synthesise(mix_styles(w1, w2, STYLE_GROUPS["fine"]), noise)
    for hook in hooks:
        hook.remove()
    first_fine = min(STYLE_GROUPS["fine"])
    for k in range(first_fine):                               # every layer before the fine ones: identical
        assert torch.equal(captured[k][0], captured[k][1])
    assert not torch.allclose(captured[first_fine][0], captured[first_fine][1])
    assert not torch.allclose(plain, fine)
    ws = mix_styles(w1, w2, STYLE_GROUPS["middle"])
    assert torch.equal(ws[:, 4], w2) and torch.equal(ws[:, 3], w1) and torch.equal(ws[:, 6], w1)


def test_noise_and_truncation(generator):
    ws = generator.map(torch.randn(2, 16))[:, None].expand(-1, generator.num_layers, -1)
    fixed = generator.noise_planes(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(generator.synthesise(ws, fixed), generator.synthesise(ws, fixed))
        assert not torch.allclose(generator.synthesise(ws), generator.synthesise(ws))      # stochastic variation
        generator.w_average.copy_(torch.randn(16))
        fixed = generator.noise_planes(4, torch.Generator().manual_seed(1))
        average = generator.synthesise(generator.w_average.expand(4, generator.num_layers, -1), fixed)
        z = torch.randn(4, 16)
        truncated = generator.synthesise(generator.truncate(generator.map(z), 0.0)[:, None].expand(-1, 8, -1), fixed)
        assert torch.allclose(truncated, average)                                          # ψ = 0: the mean image
        assert torch.allclose(generator.truncate(generator.map(z), 1.0), generator.map(z), atol=1e-6)
    with pytest.raises(ValueError, match="noise needs one plane per layer"):
        generator.synthesise(ws, fixed[:3])


def test_r1_penalty_known_answer_and_padding():
    weights = torch.randn(1, 1, 32, 32)

    class Linear(nn.Module):
        def forward(self, x):
            return (x * weights).flatten(1).sum(1)

    assert r1_penalty(Linear(), torch.rand(5, 1, 32, 32)).item() == pytest.approx(weights.pow(2).sum().item(), rel=1e-5)
    padded = pad_to_32(torch.ones(2, 1, 28, 28))
    assert padded.shape == (2, 1, 32, 32) and padded[..., :2, :].abs().sum() == 0 and padded.sum() == 2 * 784
    with pytest.raises(ValueError, match=r"N×C×28×28 or N×C×32×32 images, got a batch of shape \(1, 1, 30, 30\)"):
        pad_to_32(torch.ones(1, 1, 30, 30))


def test_mixed_latents_cross_over_once(generator):
    random = torch.Generator().manual_seed(0)
    ws = mixed_latents(generator, 3, 1.0, random)
    changes = [k for k in range(1, 8) if not torch.equal(ws[:, k], ws[:, k - 1])]
    assert len(changes) == 1                                      # one crossover layer, w₁ before it, w₂ after
    same = mixed_latents(generator, 3, 0.0, random)
    assert all(torch.equal(same[:, k], same[:, 0]) for k in range(8))


def test_training_runs_and_tracks_the_average_latent():
    torch.manual_seed(0)
    g = StyleGenerator(1, latent_dim=16, mapping_layers=2, widths=(16, 16, 8, 8))
    loader = DataLoader(TensorDataset(torch.rand(64, 1, 28, 28), torch.zeros(64).long()), batch_size=16)
    history = train_stylegan(g, StyleDiscriminator(1), loader, 3)
    assert all(len(values) == 3 for values in history.values()) and history["r1"][0] > 0
    assert g.w_average.abs().sum() > 0 and not g.training
    with pytest.raises(ValueError, match="mixing_probability"):
        train_stylegan(g, StyleDiscriminator(1), loader, 1, mixing_probability=1.5)


def test_slerp_and_path_length_known_answers():
    from gancourse.evaluate import perceptual_path_length, slerp

    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert torch.allclose(slerp(a, b, torch.zeros(1, 1)), a) and torch.allclose(slerp(a, b, torch.ones(1, 1)), b)
    unit = slerp(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3]]))
    assert unit.norm().item() == pytest.approx(1.0)                          # stays on the circle
    torch.manual_seed(0)
    start, end, t = torch.randn(5, 4), torch.randn(5, 4), torch.rand(5, 1) * 0.9
    matrix = torch.randn(4, 3)
    linear = lambda v: v @ matrix                                             # noqa: E731  G linear, φ identity
    expected = ((end - start) @ matrix).pow(2).sum(1).mean().item()          # lerp: the step is ε·(end − start)
    assert perceptual_path_length(linear, lambda x: x, start, end, t, spherical=False) == pytest.approx(expected, rel=1e-3)
    with pytest.raises(ValueError, match="1 − eps"):
        perceptual_path_length(linear, lambda x: x, start, end, torch.ones(5, 1), spherical=False)


def test_equalised_linear_scales_weights_at_run_time_and_starts_at_he_initialisation():
    torch.manual_seed(0)
    layer = EqualLinear(400, 300, lr_multiplier=0.01)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(5, 400)
    assert torch.allclose(layer(x), x @ (layer.weight * 0.01 / 20).T + 0.01 * layer.bias, atol=1e-5)
    effective = layer.weight * layer.weight_gain
    assert abs(effective.std().item() * 20 - 1) < 0.02          # N(0, 1/in_features)


def test_a_learning_rate_multiplier_slows_the_effective_weights_by_that_factor():
    torch.manual_seed(0)
    x, target = torch.randn(8, 16), torch.randn(8, 4)
    moved = {}
    for multiplier in (1.0, 0.01):
        layer = EqualLinear(16, 4, multiplier)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(4, 16, generator=torch.Generator().manual_seed(1)) / multiplier)
        before = (layer.weight * layer.weight_gain).detach().clone()
        optimiser = torch.optim.Adam(layer.parameters(), lr=1e-3)
        F.mse_loss(layer(x), target).backward()
        optimiser.step()
        moved[multiplier] = ((layer.weight * layer.weight_gain).detach() - before).abs().mean().item()
    assert moved[0.01] / moved[1.0] == pytest.approx(0.01, rel=1e-3)


def test_equalised_convolution_matches_a_plain_one_with_scaled_weights():
    torch.manual_seed(0)
    layer = EqualConv2d(3, 5, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(layer(x), F.conv2d(x, layer.weight / 27 ** 0.5, layer.bias, 2, 1), atol=1e-5)


def test_minibatch_stddev_is_the_groups_mean_standard_deviation():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 2, 2)
    out = MinibatchStdDev(4)(x)                        # 6 images: groups of 3, images (0, 2, 4) and (1, 3, 5)
    assert out.shape == (6, 4, 2, 2) and torch.equal(out[:, :3], x)
    for members in ((0, 2, 4), (1, 3, 5)):
        expected = (x[list(members)].var(0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[list(members), 3], expected.expand(3, 2, 2), atol=1e-6)
    single = MinibatchStdDev(4)(x[:1])
    assert torch.allclose(single[:, 3], torch.full((1, 2, 2), 1e-4))
    collapsed = MinibatchStdDev(4)(x[:1].expand(4, -1, -1, -1))   # identical images: no variety at all
    assert collapsed[:, 3].max() < 1e-3 < MinibatchStdDev(4)(x[:4])[:, 3].min()
