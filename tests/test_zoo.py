import dataclasses
import json

import pytest
import torch

from gancourse import robustness, zoo
from gancourse.checkpoints import CheckpointStore
from gancourse.data import make_loaders
from gancourse.profiles import PROFILES
from gancourse.zoo import Zoo

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
    pair, record = Zoo(TINY, bundle, 0, store=store).dcgan()
    assert record.source == "trained" and len(record.metadata["history"]["g_loss"]) == 3
    assert pair["snapshots"].taken.all()
    again, second = Zoo(TINY, bundle, 0, store=store).dcgan()
    assert second.source == "loaded"
    assert torch.equal(again["snapshots"].images, pair["snapshots"].images)
    z = torch.randn(4, 100)
    assert torch.allclose(again["generator"](z), pair["generator"](z))
    _, other_seed = Zoo(TINY, bundle, 1, store=store).dcgan()
    assert other_seed.source == "trained"


@pytest.mark.slow
def test_wgan_gp_uses_the_defense_gan_setup(tmp_path, bundle):
    pair, record = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path)).wgan_gp()
    assert pair["generator"].latent_dim == 128
    assert "wasserstein_estimate" in record.metadata["history"]
    assert pair["generator"](torch.randn(2, 128)).shape == (2, 1, 28, 28)


@pytest.mark.slow
def test_a_later_wgan_gp_stage_continues_the_earlier_one(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    first = dataclasses.replace(TINY, critic_gan_iterations=2)
    earlier, earlier_record = Zoo(first, bundle, 0, store=store, weights="reference", reference=first).wgan_gp((2, 4))
    second = dataclasses.replace(TINY, critic_gan_iterations=4)
    pair, record = Zoo(second, bundle, 0, store=store, weights="reference", reference=second).wgan_gp((2, 4))
    assert record.source == "trained" and record.config["continues"] == {"steps": 2}
    assert record.metadata["continued_from"] == {"file": earlier_record.path.name, "steps": 2,
                                                 "train_seconds": earlier_record.metadata["train_seconds"]}
    history, before = record.metadata["history"]["d_loss"], earlier_record.metadata["history"]["d_loss"]
    assert len(history) == 4 and history[:2] == before
    assert zoo.training_seconds(record) == pytest.approx(record.metadata["train_seconds"]
                                                         + earlier_record.metadata["train_seconds"])
    snapshots = pair["snapshots"]
    assert snapshots.steps.tolist() == zoo.snapshot_steps(2, points=9) + [4] and snapshots.taken.all()
    assert torch.equal(snapshots.images[:-1], earlier["snapshots"].images)   # the earlier stage's, kept
    assert not torch.equal(pair["generator"].state_dict()["project.0.weight"],
                           earlier["generator"].state_dict()["project.0.weight"])   # and trained further
    # a chapter's own budget of the same length starts afresh: stages are the reference context's
    _, afresh = Zoo(second, bundle, 0, store=store, weights="train").wgan_gp((2, 4))
    assert "continues" not in afresh.config and afresh.path != record.path


def test_wgan_gp_stages_must_increase(tmp_path, bundle):
    with pytest.raises(ValueError, match="increasing order"):
        Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path), weights="train").wgan_gp((4, 2))


def test_classifier_records_its_test_accuracy(tmp_path, bundle):
    model, record = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path)).classifier("D")
    assert 0.0 <= record.metadata["test_accuracy"] <= 1.0 and not model.training


def test_cgan_snapshots_cycle_through_the_classes(tmp_path, bundle):
    pair, record = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path)).dcgan(conditional=True)
    assert record.source == "trained" and pair["generator"].num_classes == 10
    assert pair["snapshots"].labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert pair["snapshots"].taken.all()


def test_adversarial_and_detector_recipes_train_once_and_depend_on_the_clean_model(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    clean, _ = Zoo(TINY, bundle, 0, store=store).classifier("D")
    robust, record = Zoo(TINY, bundle, 0, store=store).adversarially_trained("D", "pgd", 0.3)
    assert record.source == "trained" and record.metadata["test_accuracy"] > 0
    assert record.metadata["history"]["loss"] and not torch.equal(robust[1].weight, clean[1].weight)
    _, again = Zoo(TINY, bundle, 0, store=store).adversarially_trained("D", "pgd", 0.3)
    assert again.source == "loaded"
    _, other_eps = Zoo(TINY, bundle, 0, store=store).adversarially_trained("D", "pgd", 0.1)
    assert other_eps.source == "trained"
    detector, detector_record = Zoo(TINY, bundle, 0, store=store).detector("D", 0.3)
    assert detector_record.source == "trained" and detector(bundle.test_images[:2]).shape == (2, 2)


@pytest.mark.slow
def test_reconstruction_trained_classifier_depends_on_the_generator_and_the_clean_model(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    model, record = Zoo(TINY, bundle, 0, store=store).reconstruction_trained("D")
    assert record.source == "trained" and not model.training
    assert len(record.metadata["history"]["loss"]) == TINY.classifier_epochs
    clean, _ = Zoo(TINY, bundle, 0, store=store).classifier("D")
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), clean.state_dict().values(), strict=True))
    _, again = Zoo(TINY, bundle, 0, store=store).reconstruction_trained("D")
    assert again.source == "loaded"


def test_magnet_autoencoder_recipe_trains_once(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    autoencoder, record = Zoo(TINY, bundle, 0, store=store).magnet()
    assert record.source == "trained" and len(record.metadata["history"]["loss"]) == 3 * TINY.classifier_epochs
    assert autoencoder(bundle.test_images[:2]).shape == (2, 1, 28, 28)
    assert Zoo(TINY, bundle, 0, store=store).magnet()[1].source == "loaded"


def test_advgan_recipes_key_on_target_defense_and_distillation(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    untargeted, record = Zoo(TINY, bundle, 0, store=store).advgan("D")
    assert record.source == "trained" and len(record.metadata["history"]["success"]) == TINY.attack_gan_iterations
    assert untargeted["generator"].eps == bundle.info.linf_budget
    _, to_three = Zoo(TINY, bundle, 0, store=store).advgan("D", target_class=3)
    _, defended = Zoo(TINY, bundle, 0, store=store).advgan("D", defense="fgsm")
    assert len({record.path, to_three.path, defended.path}) == 3
    assert Zoo(TINY, bundle, 0, store=store).advgan("D")[1].source == "loaded"
    static, _ = Zoo(TINY, bundle, 0, store=store).advgan_black_box("D", "static")
    dynamic, dynamic_record = Zoo(TINY, bundle, 0, store=store).advgan_black_box("D", "dynamic")
    assert set(static) == set(dynamic) == {"generator", "discriminator", "student"}
    assert len(dynamic_record.metadata["history"]["agreement"]) == 4
    with pytest.raises(ValueError, match="static' or 'dynamic"):
        Zoo(TINY, bundle, 0, store=store).advgan_black_box("D", "online")
    with pytest.raises(ValueError, match="unknown defense"):
        Zoo(TINY, bundle, 0, store=store).advgan("D", defense="magic")


def test_aigan_recipe_is_conditional_and_has_a_class_branch(tmp_path, bundle):
    pair, record = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path)).aigan("D")
    assert pair["generator"].num_classes == 10 and pair["discriminator"].classify(bundle.test_images[:2]).shape == (2, 10)
    assert len(record.metadata["history"]["success"]) == 2 * TINY.attack_gan_iterations


def test_replicates_are_independent_trainings_and_the_default_keeps_its_key(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    first, first_record = Zoo(TINY, bundle, 0, store=store).aigan("D", attacker_steps=10)
    again, again_record = Zoo(TINY, bundle, 0, store=store).aigan("D", attacker_steps=10, replicate=1)
    assert first_record.path != again_record.path and "replicate" not in first_record.config
    assert again_record.config["replicate"] == 1 and again_record.config["training"]["seed"] == 1
    assert first_record.config["training"]["attacker_steps"] == 10
    assert not torch.equal(next(first["generator"].parameters()), next(again["generator"].parameters()))
    default_key = Zoo(TINY, bundle, 0, store=store).advgan("D", target_class=2)[1].path
    assert Zoo(TINY, bundle, 0, store=store).advgan("D", target_class=2, replicate=None)[1].path == default_key
    assert Zoo(TINY, bundle, 0, store=store).advgan("D", target_class=2, replicate=5)[1].path != default_key
    static, static_record = Zoo(TINY, bundle, 0, store=store).advgan_black_box("D", "static")
    repeat, repeat_record = Zoo(TINY, bundle, 0, store=store).advgan_black_box("D", "static", replicate=1)
    assert static_record.path != repeat_record.path and repeat_record.config["replicate"] == 1
    assert not torch.equal(next(static["generator"].parameters()), next(repeat["generator"].parameters()))
    assert torch.equal(next(static["student"].parameters()), next(repeat["student"].parameters()))   # one student


def test_the_rec_classifiers_share_one_projection_equal_to_a_fresh_one(tmp_path, bundle):
    from gancourse.defenses.defense_gan import DefenseGAN

    models = Zoo(TINY, bundle, 11, store=CheckpointStore(tmp_path))
    images, labels = models.training_reconstructions()
    assert models.training_reconstructions()[0] is images                   # computed once per zoo
    count = min(len(bundle.train_images), 6 * TINY.eval_size)
    assert torch.equal(labels, bundle.train_labels[:count])
    generator = models.wgan_gp()[0]["generator"]
    fresh = DefenseGAN(generator, 128, steps=TINY.projection_steps, restarts=1, seed=11)(bundle.train_images[:count])
    assert torch.equal(images, fresh)
    assert Zoo(TINY, bundle, 11, store=CheckpointStore(tmp_path)).training_reconstructions()[0] is not images


def test_a_call_records_every_setting_defaults_included():
    from gancourse.models.stylegan import StyleGenerator
    from gancourse.train.stylegan import train_stylegan

    network = zoo.Call(StyleGenerator, 1)
    assert network.settings["latent_dim"] == 64 and network.settings["mapping_layers"] == 4
    assert network.settings["function"] == "gancourse.models.stylegan.StyleGenerator"
    trainer = zoo.Call(train_stylegan, iterations=5)
    assert {"lr", "mixing_probability", "r1_gamma", "seed"} <= set(trainer.settings)
    assert not {"device", "progress", "save_every"} & set(trainer.settings)      # run-time only


def test_changing_a_default_changes_the_checkpoint_key(monkeypatch):
    from gancourse.train.stylegan import train_stylegan

    before = zoo.Call(train_stylegan, iterations=5).settings
    monkeypatch.setitem(train_stylegan.__kwdefaults__, "r1_gamma", 2.0)
    after = zoo.Call(train_stylegan, iterations=5).settings
    assert before["r1_gamma"] == 1.0 and after["r1_gamma"] == 2.0
    from gancourse.checkpoints import config_hash
    assert config_hash(before) != config_hash(after)


def test_the_recipe_builds_and_trains_through_the_recorded_calls(tmp_path, bundle):
    from gancourse.models.classifiers import build_classifier
    from gancourse.train.classifier import train_classifier

    models = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path))
    trainer = zoo.Call(train_classifier, epochs=1, lr=1e-3)
    used = {}

    def train(model, progress):
        used["history"] = trainer(model, bundle.train_loader, progress=progress)
        return used["history"]

    model, record = models.make("probe", zoo.Call(build_classifier, "E"), trainer, train)
    config = json.loads(torch.load(record.path, weights_only=True)["config_json"])
    assert config["networks"]["model"]["function"] == "gancourse.models.classifiers.build_classifier"
    assert config["networks"]["model"]["name"] == "E" and config["training"]["lr"] == 1e-3
    assert config["training"]["adversarial_weight"] == 0.5                    # a default, recorded
    assert record.metadata["history"] == used["history"] and record.metadata["train_seconds"] > 0


def test_a_call_refuses_run_time_arguments_it_would_misrecord():
    from gancourse.train.classifier import train_classifier

    trainer = zoo.Call(train_classifier, epochs=1)
    with pytest.raises(TypeError, match="run_time"):
        trainer(None, None, adversary=lambda *a: None)
    with pytest.raises(TypeError, match="cannot record"):
        zoo.Call(train_classifier, epochs=1, adversary=lambda *a: None)


def test_starting_from_a_model_needs_its_record(tmp_path, bundle):
    models = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path))
    clean = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="inputs"):
        models.make("probe", clean, zoo.Call(lambda: None), lambda model, progress: {})


def test_the_zoo_rejects_a_wrong_bundle_or_seed_before_training(tmp_path, bundle):
    with pytest.raises(TypeError, match="DataBundle"):
        Zoo(TINY, "mnist5k", 0, store=CheckpointStore(tmp_path))
    with pytest.raises(ValueError, match="seed"):
        Zoo(TINY, bundle, -1, store=CheckpointStore(tmp_path))
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_chapter_zoo_announces_each_model_once(tmp_path, bundle, monkeypatch):
    from gancourse.zoo import recipe

    announced = []
    monkeypatch.setattr(recipe, "record", lambda name, value: announced.append(name))
    chapter_zoo = dataclasses.replace(Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path)), announce=True)
    chapter_zoo.classifier("D")
    chapter_zoo.adversarially_trained("D", "fgsm", 0.1)      # asks for classifier D again, as its input
    chapter_zoo.classifier("D")
    assert len(announced) == len(set(announced)) == 2


def test_the_matrix_cache_folder_changes_with_the_attacks_and_the_models(tmp_path, bundle, monkeypatch):
    chapter_zoo = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path))
    first = robustness.book_matrix_cache(chapter_zoo, "A", []).folder
    assert first.parent == tmp_path / "matrix-cells"
    assert robustness.book_matrix_cache(chapter_zoo, "A", []).folder == first
    monkeypatch.setattr(robustness, "ATTACKS_VERSION", robustness.ATTACKS_VERSION + 1)   # a changed attack
    assert robustness.book_matrix_cache(chapter_zoo, "A", []).folder != first
    monkeypatch.undo()
    chapter_zoo.models_given.add("model_classifier_A_0123456789abcdef")                 # another model
    assert robustness.book_matrix_cache(chapter_zoo, "A", []).folder != first


def test_a_fixed_rows_generator_keys_its_own_cells_not_the_folder(tmp_path, bundle):
    from gancourse.matrix import AttackSpec

    chapter_zoo = Zoo(TINY, bundle, 0, store=CheckpointStore(tmp_path))
    _, generator_record = chapter_zoo.advgan("D")
    row = AttackSpec("AdvGAN", "fixed", lambda _: None, settings={robustness.MADE_FROM: zoo.model_key(generator_record)})
    assert zoo.model_key(generator_record) in chapter_zoo.models_given
    folder = robustness.book_matrix_cache(chapter_zoo, "A", [row]).folder
    assert robustness.book_matrix_cache(chapter_zoo, "A", []).folder != folder          # unnamed: in the folder's key
    chapter_zoo.models_given.discard(zoo.model_key(generator_record))                   # as before it was given
    assert robustness.book_matrix_cache(chapter_zoo, "A", [row]).folder == folder        # named by its row only
    cache, images, labels = robustness.book_matrix_cache(chapter_zoo, "A", [row]), torch.zeros(2, 1, 28, 28), torch.zeros(2)
    retrained = dataclasses.replace(row, settings={robustness.MADE_FROM: "model_advgan_D_none_untargeted_other"})
    assert (cache.key("AdvGAN", "none", [], images, labels, row.settings)
            != cache.key("AdvGAN", "none", [], images, labels, retrained.settings))   # its cells are recomputed


def test_the_few_label_cgan_trains_on_its_labelled_subset_only(tmp_path, bundle):
    store = CheckpointStore(tmp_path)
    pair, record = Zoo(TINY, bundle, 0, store=store).few_label_cgan(3)
    assert record.config["training_data"] == {"labelled_per_class": 3, "images": 30}
    assert pair["generator"](torch.randn(2, 100), torch.tensor([0, 1])).shape == (2, 1, 28, 28)
    _, full = Zoo(TINY, bundle, 0, store=store).dcgan(conditional=True)
    assert "training_data" not in full.config and full.path != record.path
    _, other = Zoo(TINY, bundle, 0, store=store).few_label_cgan(2)
    assert other.path != record.path
