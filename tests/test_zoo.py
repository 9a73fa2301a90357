import dataclasses

import pytest
import torch

from gancourse import zoo
from gancourse.checkpoints import CheckpointStore
from gancourse.data import make_loaders
from gancourse.profiles import PROFILES

TINY = dataclasses.replace(PROFILES["smoke"], train_size=128, test_size=64, gan_iterations=3,
                           critic_gan_iterations=2, classifier_epochs=1, attack_gan_iterations=4)


@pytest.fixture(scope="module")
def bundle():
    return make_loaders("mnist5k", TINY, seed=0)


def test_snapshot_steps_are_geometric_and_end_at_the_last_step():
    assert zoo.snapshot_steps(3000) == [0, 5, 25, 122, 605, 3000]
    assert zoo.snapshot_steps(1) == [0, 1]
    assert zoo.snapshot_steps(0) == [0]


def test_dcgan_trains_once_then_loads_with_its_snapshots(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    pair, record = zoo.dcgan(bundle, TINY, seed=0, store=store)
    assert record.source == "trained" and len(record.metadata["history"]["g_loss"]) == 3
    assert pair["snapshots"].taken.all()
    again, second = zoo.dcgan(bundle, TINY, seed=0, store=store)
    assert second.source == "loaded"
    assert torch.equal(again["snapshots"].images, pair["snapshots"].images)
    z = torch.randn(4, 100)
    assert torch.allclose(again["generator"](z), pair["generator"](z))
    _, other_seed = zoo.dcgan(bundle, TINY, seed=1, store=store)
    assert other_seed.source == "trained"


@pytest.mark.slow
def test_wgan_gp_uses_the_defense_gan_setup(tmp_path, bundle):
    pair, record = zoo.wgan_gp(bundle, TINY, seed=0, store=CheckpointStore(tmp_path))
    assert pair["generator"].latent_dim == 128
    assert "wasserstein_estimate" in record.metadata["history"]
    assert pair["generator"](torch.randn(2, 128)).shape == (2, 1, 28, 28)


def test_classifier_records_its_test_accuracy(tmp_path, bundle):
    model, record = zoo.classifier("D", bundle, TINY, seed=0, store=CheckpointStore(tmp_path))
    assert 0.0 <= record.metadata["test_accuracy"] <= 1.0 and not model.training


def test_cgan_snapshots_cycle_through_the_classes(tmp_path, bundle):
    pair, record = zoo.dcgan(bundle, TINY, seed=0, store=CheckpointStore(tmp_path), conditional=True)
    assert record.source == "trained" and pair["generator"].num_classes == 10
    assert pair["snapshots"].labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert pair["snapshots"].taken.all()


def test_adversarial_and_detector_recipes_train_once_and_depend_on_the_clean_model(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    clean, _ = zoo.classifier("D", bundle, TINY, seed=0, store=store)
    robust, record = zoo.adversarially_trained("D", "pgd", 0.3, bundle, TINY, seed=0, store=store)
    assert record.source == "trained" and record.metadata["test_accuracy"] > 0
    assert record.metadata.get("train_loss") and not torch.equal(robust[1].weight, clean[1].weight)
    _, again = zoo.adversarially_trained("D", "pgd", 0.3, bundle, TINY, seed=0, store=store)
    assert again.source == "loaded"
    _, other_eps = zoo.adversarially_trained("D", "pgd", 0.1, bundle, TINY, seed=0, store=store)
    assert other_eps.source == "trained"
    detector, detector_record = zoo.detector("D", 0.3, bundle, TINY, seed=0, store=store)
    assert detector_record.source == "trained" and detector(bundle.test_images[:2]).shape == (2, 2)


@pytest.mark.slow
def test_reconstruction_trained_classifier_depends_on_the_generator_and_the_clean_model(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    model, record = zoo.reconstruction_trained("D", bundle, TINY, seed=0, store=store)
    assert record.source == "trained" and not model.training
    assert record.metadata.get("train_loss") and len(record.metadata["train_loss"]) == TINY.classifier_epochs
    clean, _ = zoo.classifier("D", bundle, TINY, seed=0, store=store)
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), clean.state_dict().values(), strict=True))
    _, again = zoo.reconstruction_trained("D", bundle, TINY, seed=0, store=store)
    assert again.source == "loaded"


def test_magnet_autoencoder_recipe_trains_once(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    autoencoder, record = zoo.magnet(bundle, TINY, seed=0, store=store)
    assert record.source == "trained" and len(record.metadata["train_loss"]) == 3 * TINY.classifier_epochs
    assert autoencoder(bundle.test_images[:2]).shape == (2, 1, 28, 28)
    assert zoo.magnet(bundle, TINY, seed=0, store=store)[1].source == "loaded"


def test_advgan_recipes_key_on_target_defense_and_distillation(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    untargeted, record = zoo.advgan("D", bundle, TINY, seed=0, store=store)
    assert record.source == "trained" and len(record.metadata["history"]["success"]) == TINY.attack_gan_iterations
    assert untargeted["generator"].eps == bundle.info.linf_budget
    _, to_three = zoo.advgan("D", bundle, TINY, seed=0, store=store, target_class=3)
    _, defended = zoo.advgan("D", bundle, TINY, seed=0, store=store, defense="fgsm")
    assert len({record.path, to_three.path, defended.path}) == 3
    assert zoo.advgan("D", bundle, TINY, seed=0, store=store)[1].source == "loaded"
    static, _ = zoo.advgan_black_box("D", "static", bundle, TINY, seed=0, store=store)
    dynamic, dynamic_record = zoo.advgan_black_box("D", "dynamic", bundle, TINY, seed=0, store=store)
    assert set(static) == set(dynamic) == {"generator", "discriminator", "student"}
    assert len(dynamic_record.metadata["history"]["agreement"]) == 4
    with pytest.raises(ValueError, match="static' or 'dynamic"):
        zoo.advgan_black_box("D", "online", bundle, TINY, seed=0, store=store)
    with pytest.raises(ValueError, match="unknown defense"):
        zoo.advgan("D", bundle, TINY, seed=0, store=store, defense="magic")


def test_aigan_recipe_is_conditional_and_has_a_class_branch(tmp_path, bundle):
    pair, record = zoo.aigan("D", bundle, TINY, seed=0, store=CheckpointStore(tmp_path))
    assert pair["generator"].num_classes == 10 and pair["discriminator"].classify(bundle.test_images[:2]).shape == (2, 10)
    assert len(record.metadata["history"]["success"]) == 2 * TINY.attack_gan_iterations


def test_the_rec_classifiers_share_one_projection_equal_to_a_fresh_one():
    from gancourse.defenses.defense_gan import DefenseGAN
    from gancourse.models.wgan_gp import WGANGPGenerator

    torch.manual_seed(0)
    generator, images = WGANGPGenerator().eval(), torch.rand(6, 1, 28, 28)
    first = zoo._training_reconstructions(generator, "test-generator.pt", images, 3, 11, "cpu")
    again = zoo._training_reconstructions(generator, "test-generator.pt", images, 3, 11, "cpu")
    assert again is first                                                   # computed once
    assert torch.equal(first, DefenseGAN(generator, 128, steps=3, restarts=1, seed=11)(images))
    other_seed = zoo._training_reconstructions(generator, "test-generator.pt", images, 3, 12, "cpu")
    assert not torch.equal(other_seed, first)                               # the key includes the seed
