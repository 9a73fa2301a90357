"""CycleGAN: network shapes, the cycle loss's known answers, the image pool's contract, and a short training
on real MNIST digits that lowers the cycle error."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from gancourse.checkpoints import CheckpointStore
from gancourse.data import class_loader, make_loaders
from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
from gancourse.profiles import PROFILES
from gancourse.train.cyclegan import ImagePool, cycle_loss, generator_loss, train_cyclegan
from gancourse.zoo import Zoo

TINY = dataclasses.replace(PROFILES["smoke"], train_size=1000, test_size=64, cyclegan_iterations=3)


@pytest.fixture(scope="module")
def digits():
    return make_loaders("mnist5k", TINY, seed=0)


def test_networks_keep_shape_and_range_and_score_patches():
    for side, patches in ((28, 5), (32, 6)):
        x = torch.rand(2, 1, side, side)
        out = CycleGenerator(1)(x)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        assert PatchDiscriminator(1)(x).shape == (2, 1, patches, patches)
    with pytest.raises(ValueError, match="multiples of 4"):
        CycleGenerator(1)(torch.rand(1, 1, 30, 30))


def test_cycle_loss_known_answers():
    a = torch.full((3, 1, 28, 28), 0.5)
    assert cycle_loss(a, a).item() == 0.0
    assert cycle_loss(a, a + 0.2).item() == pytest.approx(0.2)
    half = a.clone()
    half[..., :14] += 0.4                                                   # half the pixels off by 0.4
    assert cycle_loss(a, half).item() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="shape"):
        cycle_loss(a, a[:2])


def test_image_pool_fills_then_mixes_old_and_new():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)                            # filling: returned as they are
    new = torch.arange(10.0, 30.0).view(20, 1, 1, 1)
    returned = pool.query(new)
    assert len(returned) == 20 and len(pool.images) == 4
    values = set(returned.flatten().tolist())
    assert values <= set(range(4)) | set(range(10, 30))
    assert values & set(range(4)) and values & set(range(10, 30))           # both old and new images come back
    assert torch.equal(ImagePool(size=0).query(new), new)


@pytest.mark.slow
def test_short_training_lowers_the_cycle_error_on_real_digits(digits):
    torch.manual_seed(0)
    networks = nn.ModuleDict({"G_ab": CycleGenerator(1, width=8, blocks=1), "G_ba": CycleGenerator(1, width=8, blocks=1),
                              "D_a": PatchDiscriminator(1, width=8), "D_b": PatchDiscriminator(1, width=8)})
    history = train_cyclegan(networks, class_loader(digits, 1, 16), class_loader(digits, 7, 16), 60)
    assert set(history) == {"gan_loss", "cycle_loss", "identity_loss", "d_loss"}
    assert sum(history["cycle_loss"][-10:]) < 0.7 * sum(history["cycle_loss"][:10])
    assert not networks.training


def test_training_and_loaders_reject_bad_settings(digits):
    networks = nn.ModuleDict({"G_ab": CycleGenerator(1), "D_a": PatchDiscriminator(1)})
    with pytest.raises(ValueError, match="missing"):
        train_cyclegan(networks, class_loader(digits, 1, 16), class_loader(digits, 7, 16), 1)
    with pytest.raises(ValueError, match="class_index"):
        class_loader(digits, 10, 16)
    with pytest.raises(ValueError, match="cycle_weight"):
        full = nn.ModuleDict({"G_ab": CycleGenerator(1), "G_ba": CycleGenerator(1), "D_a": PatchDiscriminator(1),
                              "D_b": PatchDiscriminator(1)})
        train_cyclegan(full, class_loader(digits, 1, 16), class_loader(digits, 7, 16), 1, cycle_weight=-1.0)


def test_cyclegan_recipe_keys_on_domains_and_cycle_weight(tmp_path, digits):
    store = CheckpointStore(tmp_path)
    networks, record = Zoo(TINY, digits, 0, store=store).cyclegan(1, 7)
    assert record.source == "trained" and set(networks) == {"G_ab", "G_ba", "D_a", "D_b"}
    assert len(record.metadata["history"]["cycle_loss"]) == TINY.cyclegan_iterations
    _, ablation = Zoo(TINY, digits, 0, store=store).cyclegan(1, 7, cycle_weight=0.0)
    assert ablation.path != record.path and ablation.metadata["history"]["identity_loss"][0] == 0.0
    assert Zoo(TINY, digits, 0, store=store).cyclegan(1, 7)[1].source == "loaded"
    with pytest.raises(ValueError, match="different classes"):
        Zoo(TINY, digits, 0, store=store).cyclegan(3, 3)


class Scale(nn.Module):
    """x ↦ factor · x: a stand-in network whose losses are known by hand."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


def test_generator_loss_known_answers():
    # G halves, F and both discriminators are the identity; a = 0.4 and b = 0.8 everywhere
    networks = nn.ModuleDict({"G_ab": Scale(0.5), "G_ba": Scale(1.0), "D_a": Scale(1.0), "D_b": Scale(1.0)})
    a, b = torch.full((2, 1, 4, 4), 0.4), torch.full((2, 1, 4, 4), 0.8)
    terms = generator_loss(networks, a, b)
    assert terms["gan_loss"].item() == pytest.approx((0.2 - 1) ** 2 + (0.8 - 1) ** 2)   # D_B(G(a)), D_A(F(b)); no ½
    assert terms["cycle_loss"].item() == pytest.approx(0.2 + 0.4)      # |F(G(a)) − a| + |G(F(b)) − b|
    assert terms["identity_loss"].item() == pytest.approx(0.4 + 0.0)   # |G(b) − b| + |F(a) − a|
    assert terms["loss"].item() == pytest.approx(0.68 + 10 * 0.6 + 10 * 0.5 * 0.4)
    assert torch.equal(terms["fake_b"], 0.5 * a) and torch.equal(terms["fake_a"], b)
    no_identity = generator_loss(networks, a, b, identity_weight=0.0)
    assert no_identity["identity_loss"].item() == 0.0 and no_identity["loss"].item() == pytest.approx(6.68)
    assert generator_loss(networks, a, b, gan_weight=2.0)["loss"].item() == pytest.approx(2 * 0.68 + 6.0 + 2.0)
    with pytest.raises(ValueError, match="missing \\['D_b'\\]"):
        generator_loss(nn.ModuleDict({key: networks[key] for key in ("G_ab", "G_ba", "D_a")}), a, b)


def test_training_logs_the_generator_loss_of_its_batch():
    torch.manual_seed(0)
    networks = nn.ModuleDict({"G_ab": CycleGenerator(1, width=4, blocks=1), "G_ba": CycleGenerator(1, width=4, blocks=1),
                              "D_a": PatchDiscriminator(1, width=4), "D_b": PatchDiscriminator(1, width=4)})
    a, b = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    history = train_cyclegan(copy.deepcopy(networks), [(a, None)], [(b, None)], 1, cycle_weight=7.0,
                             identity_weight=0.3)
    terms = generator_loss(networks.train(), a, b, cycle_weight=7.0, identity_weight=0.3)
    for key in ("gan_loss", "cycle_loss", "identity_loss"):
        assert history[key][0] == pytest.approx(terms[key].item(), rel=1e-6), key
