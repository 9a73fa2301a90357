"""CycleGAN: network shapes, the cycle loss's known answers, the image pool's contract, and a short training
on real MNIST digits that lowers the cycle error."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from gancourse import zoo
from gancourse.checkpoints import CheckpointStore
from gancourse.data import class_loader, make_loaders
from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
from gancourse.profiles import PROFILES
from gancourse.train.cyclegan import ImagePool, cycle_loss, train_cyclegan

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
    networks, record = zoo.cyclegan(1, 7, digits, TINY, seed=0, store=store)
    assert record.source == "trained" and set(networks) == {"G_ab", "G_ba", "D_a", "D_b"}
    assert len(record.metadata["history"]["cycle_loss"]) == TINY.cyclegan_iterations
    _, ablation = zoo.cyclegan(1, 7, digits, TINY, seed=0, store=store, cycle_weight=0.0)
    assert ablation.path != record.path and ablation.metadata["history"]["identity_loss"][0] == 0.0
    assert zoo.cyclegan(1, 7, digits, TINY, seed=0, store=store)[1].source == "loaded"
    with pytest.raises(ValueError, match="different classes"):
        zoo.cyclegan(3, 3, digits, TINY, seed=0, store=store)
