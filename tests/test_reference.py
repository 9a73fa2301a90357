"""Reference models and the published-first lookup: a chapter with weights="published" loads the model trained
with the reference budget (store, then published weights) and trains with its own profile only what nothing
publishes; weights="train" never looks. The reference budget here is tiny (mnist5k, 64 images, 1 epoch)."""

import dataclasses
import json
import time

import pytest
import torch

from gancourse.book.report import models_text, quality_text
from gancourse.book.run_times import run_key
from gancourse.checkpoints import CheckpointStore
from gancourse.data import make_loaders
from gancourse.evaluate import class_shares
from gancourse.profiles import PROFILES
from gancourse.weights import PublishedWeights, read_manifest
from gancourse.zoo import Zoo
from gancourse.zoo import reference as reference_module
from gancourse.zoo.recipe import NotPublished, model_summary, origin, training_seconds, training_steps
from gancourse.zoo.reference import (
    LEDGER_NAME,
    REFERENCE_MODELS,
    ReferenceModel,
    publish_trained,
    reference_model,
    reference_zoo,
    sample_images,
    stylegan_r1_sweep,
    train_reference,
)

pytestmark = pytest.mark.filterwarnings("ignore::gancourse.weights.PublishedWeightsWarning")  # nothing to download
TINY_REFERENCE = dataclasses.replace(PROFILES["smoke"], name="reference", train_size=64, test_size=32,
                                     batch_size=32, classifier_epochs=1, attack_gan_iterations=3)
CHAPTER = dataclasses.replace(PROFILES["smoke"], train_size=48, test_size=32, batch_size=16, attack_gan_iterations=2)


def accuracy_of(zoo, model, record):
    return {"test_accuracy": float(record.metadata["test_accuracy"])}


def tiny_row(key="classifier-A@mnist5k", recipe=lambda zoo: zoo.classifier("A")):
    return ReferenceModel(key, "mnist5k", recipe, "64 images, 1 epoch", 2, accuracy_of, "none (a test)")


def isolated(tmp_path, folder="weights"):
    """Published weights in tmp_path/folder only (no download: the URL leads nowhere)."""
    return PublishedWeights(folder=tmp_path / folder, base_url=(tmp_path / "nowhere").as_uri())


def published_reference(tmp_path, rows=None):
    """The tiny reference rows trained into tmp_path/reference-store and published into tmp_path/weights."""
    store = CheckpointStore(tmp_path / "reference-store")
    return train_reference(rows or [tiny_row()], store, reference=TINY_REFERENCE, published=isolated(tmp_path, "none"),
                           on_done=lambda trained: publish_trained(store, trained, tmp_path / "weights"))


def chapter_zoo(tmp_path, weights="published"):
    return Zoo(CHAPTER, make_loaders("mnist5k", CHAPTER, 0), 0, store=CheckpointStore(tmp_path / "chapter-store"),
               weights=weights, published=isolated(tmp_path), reference=TINY_REFERENCE)


def test_a_chapter_loads_the_published_reference_model_instead_of_training_its_own(tmp_path):
    (done,) = published_reference(tmp_path)
    assert done.record.source == "trained" and done.record.config["train_size"] == 64
    model, record = chapter_zoo(tmp_path).classifier("A")
    assert record.source == "published" and record.config == done.record.config
    assert record.metadata["published"]["steps"] == 2
    reference = torch.load(done.record.path, weights_only=True)["state_dict"]
    as_published = {key: value.half() if value.is_floating_point() else value for key, value in reference.items()}
    assert all(torch.equal(value, as_published[key].to(value.dtype)) for key, value in model.state_dict().items())


def test_publishing_leaves_the_store_holding_the_model_as_published(tmp_path):
    from gancourse.weights import publish

    (done,) = published_reference(tmp_path)
    store = CheckpointStore(tmp_path / "reference-store")
    state, metadata = store.stored(done.record.name, done.record.config)
    (entry,) = read_manifest(tmp_path / "weights").values()
    assert metadata["published"]["sha256"] == entry.sha256 and metadata["published"]["steps"] == 2
    floats = [value for value in state.values() if value.is_floating_point()]
    assert floats and all(value.dtype == torch.float32 and torch.equal(value, value.half().float()) for value in floats)
    again = publish(store, done.record.name, done.record.config, "float16", entry.provenance, folder=tmp_path / "weights")
    assert again == entry                                               # the same bytes: nothing restamped
    _, record = Zoo(TINY_REFERENCE, make_loaders("mnist5k", TINY_REFERENCE, 0), 0, store=store, weights="lookup",
                    published=isolated(tmp_path), reference=TINY_REFERENCE).classifier("A")
    assert origin(record) == "published weights" and model_summary(record)["source"] == "published"


def test_weights_train_trains_with_the_chapters_profile(tmp_path):
    published_reference(tmp_path)
    _, record = chapter_zoo(tmp_path, weights="train").classifier("A")
    assert record.source == "trained" and record.config["train_size"] == 48 and "published" not in record.metadata


def test_a_comparison_at_the_profiles_budget_trains_beside_the_published_model(tmp_path, monkeypatch):
    published_reference(tmp_path)
    announced = []
    monkeypatch.setattr("gancourse.zoo.recipe.record", lambda name, value: announced.append(name))
    zoo = dataclasses.replace(chapter_zoo(tmp_path), announce=True)
    _, published = zoo.classifier("A")
    alike = zoo.trained_at_profile()
    _, trained = alike.classifier("A")
    assert published.source == "published" and trained.source == "trained" and trained.config["train_size"] == 48
    assert zoo.weights == "published" and alike.weights == "train"              # the chapter's zoo unchanged
    assert len(announced) == 2 and alike.models_given is zoo.models_given       # both in the page's header


def test_a_profile_budget_recipe_trains_against_the_published_models_it_needs(tmp_path):
    advgan_row = ReferenceModel("advgan-A@mnist5k", "mnist5k", lambda zoo: zoo.advgan("A"), "3 steps", 3,
                                lambda zoo, model, record: {}, "none (a test)")
    classifier, _ = published_reference(tmp_path, [tiny_row(), advgan_row])
    zoo = chapter_zoo(tmp_path)
    _, published = zoo.advgan("A")
    _, at_budget = zoo.profile_budget("advgan").advgan("A")
    assert published.source == "published" and at_budget.source == "trained"
    assert (published.config["training"]["iterations"], at_budget.config["training"]["iterations"]) == (3, 2)
    assert at_budget.config["inputs"] == {"target_model": classifier.record.path.name}   # the published classifier
    assert zoo.at_profile == frozenset()                                                 # the chapter's zoo unchanged
    with pytest.raises(ValueError, match="'advgan_black_box' is not a recipe with reference weights"):
        zoo.profile_budget("advgan_black_box")


def test_without_published_weights_the_chapter_trains_with_its_profile(tmp_path):
    _, record = chapter_zoo(tmp_path).classifier("A")  # tmp_path/weights does not exist; the download fails
    assert record.source == "trained" and record.config["train_size"] == 48


def test_a_model_not_published_is_trained_against_the_published_model_it_needs(tmp_path):
    (classifier,) = published_reference(tmp_path)
    pair, record = chapter_zoo(tmp_path).advgan("A")  # only classifier A is published
    assert record.source == "trained" and record.config["train_size"] == 48
    assert record.config["inputs"] == {"target_model": classifier.record.path.name}


def test_the_lookup_context_never_trains(tmp_path):
    zoo = reference_zoo("mnist5k", CheckpointStore(tmp_path), train=False, reference=TINY_REFERENCE,
                        published=isolated(tmp_path))
    with pytest.raises(NotPublished, match="classifier-A .*no reference weights"):
        zoo.classifier("A")
    assert not list(tmp_path.glob("*.pt"))


def test_the_reference_modes_need_the_reference_profile(tmp_path):
    bundle = make_loaders("mnist5k", CHAPTER, 0)
    with pytest.raises(ValueError, match="reference context's mode"):
        Zoo(CHAPTER, bundle, 0, store=CheckpointStore(tmp_path), weights="lookup", reference=TINY_REFERENCE)


def test_train_reference_resumes_adds_up_wall_time_and_publishes_with_provenance(tmp_path):
    (done,) = published_reference(tmp_path)
    store = CheckpointStore(tmp_path / "reference-store")
    ledger = json.loads((store.root / LEDGER_NAME).read_text())
    assert abs(ledger[done.record.path.name] - done.provenance.wall_seconds) < 0.1
    (again,) = train_reference([tiny_row()], store, reference=TINY_REFERENCE,  # the store has it: nothing trains
                               published=isolated(tmp_path, "none"))
    assert again.record.source == "loaded" and again.provenance.wall_seconds == done.provenance.wall_seconds
    entry = read_manifest(tmp_path / "weights")[done.record.path.name]
    assert entry.provenance == done.provenance and entry.dtype == "float16"
    assert 0 <= entry.provenance.quality["test_accuracy"] <= 1
    assert publish_trained(store, again, tmp_path / "weights") is not None  # replaces the same file's entry
    assert list(read_manifest(tmp_path / "weights")) == [done.record.path.name]


def test_an_interrupted_sitting_counts_towards_the_wall_time(tmp_path):
    store = CheckpointStore(tmp_path / "reference-store")
    calls = []

    def interrupted_once(zoo):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)
            raise KeyboardInterrupt("a sitting stopped before the model finished")
        return zoo.classifier("A")

    row = tiny_row(recipe=interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        train_reference([row], store, reference=TINY_REFERENCE, published=isolated(tmp_path, "none"))
    assert json.loads((store.root / LEDGER_NAME).read_text())[f"unfinished: {row.key}"] >= 0.3
    (done,) = train_reference([row], store, reference=TINY_REFERENCE, published=isolated(tmp_path, "none"))
    ledger = json.loads((store.root / LEDGER_NAME).read_text())
    assert done.provenance.wall_seconds >= 0.3 and f"unfinished: {row.key}" not in ledger
    assert abs(ledger[done.record.path.name] - done.provenance.wall_seconds) < 0.1


def test_publishing_needs_the_finished_model(tmp_path):
    with pytest.raises(NotPublished):
        train_reference([tiny_row()], CheckpointStore(tmp_path), reference=TINY_REFERENCE, train=False,
                        published=isolated(tmp_path))


def test_every_reference_row_is_named_once_and_found():
    keys = [row.key for row in REFERENCE_MODELS]
    assert len(keys) == len(set(keys)) and reference_model("wgan-gp").dataset == "fashion-mnist"
    assert keys.index("classifier-A") == 0  # every quality figure needs classifier A first
    with pytest.raises(ValueError, match="no reference model 'nope'; the reference models are classifier-A"):
        reference_model("nope")


def test_sample_images_are_seeded_cropped_and_conditional():
    class Generator(torch.nn.Module):
        latent_dim = 3

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, z, labels=None):
            shift = 0 if labels is None else labels.float()[:, None, None, None]
            return (z[:, :1, None, None] * self.scale + shift).expand(-1, 1, 32, 32)

    first, again = sample_images(Generator(), 7, batch_size=3), sample_images(Generator(), 7, batch_size=7)
    assert first.shape == (7, 1, 28, 28) and torch.allclose(first, again)
    conditional = sample_images(Generator(), 4, classes=2, seed=5) - sample_images(Generator(), 4, seed=5)
    assert conditional[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_the_page_header_names_where_each_model_came_from(tmp_path):
    published_reference(tmp_path)
    zoo = chapter_zoo(tmp_path)
    _, published = zoo.classifier("A")
    _, trained = zoo.advgan("A")
    info = {"weights": "published", "models": [model_summary(published), model_summary(trained)]}
    text = models_text(info)
    assert "`classifier-A` published weights (trained 2 steps, 0.0 h on cpu" in text
    assert f"; test accuracy (10,000 test images) {published.metadata['published']['quality']['test_accuracy']:.1%})" in text
    assert "`advgan-A-none-untargeted` trained in this run" in text
    assert text.startswith("Models (weights **published**)")
    assert models_text({"weights": "train", "models": []}) == ""
    assert run_key("cpu", "published") == "cpu" and run_key("cpu", "train") == "cpu/train"


def test_a_model_trained_outside_train_reference_reports_its_own_training_time(tmp_path):
    store = CheckpointStore(tmp_path / "store")
    zoo = reference_zoo("mnist5k", store, reference=TINY_REFERENCE, published=isolated(tmp_path))
    _, record = zoo.classifier("A")
    (found,) = train_reference([tiny_row()], store, reference=TINY_REFERENCE, train=False,
                               published=isolated(tmp_path))
    assert found.record.source == "loaded"
    assert abs(found.provenance.wall_seconds - record.metadata["train_seconds"]) < 0.1


def test_training_steps_seconds_and_origin_follow_the_model_not_the_profile(tmp_path):
    (done,) = published_reference(tmp_path)
    zoo = chapter_zoo(tmp_path)
    _, published = zoo.classifier("A")
    _, trained = zoo.advgan("A")
    assert training_steps(published) == TINY_REFERENCE.classifier_epochs
    assert training_steps(trained) == CHAPTER.attack_gan_iterations
    assert training_seconds(published) == done.provenance.wall_seconds
    assert training_seconds(trained) == trained.metadata["train_seconds"]
    assert (origin(published), origin(trained)) == ("published weights", "trained in this run")
    assert origin(chapter_zoo(tmp_path).advgan("A")[1]) == "loaded from the store"


def test_class_shares_sum_to_one_and_show_collapse():
    class Constant(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = torch.nn.Parameter(logits)

        def forward(self, images):
            return self.logits[(2 * images.flatten(1)[:, 0]).long()]

    images = torch.tensor([0.0, 0.5, 0.5, 1.0]).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    spread = class_shares(Constant(torch.eye(3) * 5), images, 3)
    assert spread.tolist() == [0.25, 0.5, 0.25]
    collapsed = class_shares(Constant(torch.tensor([[0.0, 9.0, 0.0]] * 3)), images, 3)
    assert collapsed.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="more than num_classes=2"):
        class_shares(Constant(torch.eye(3) * 5), images, 2)


def test_the_r1_sweep_trains_one_stylegan_per_gamma_and_measures_each(tmp_path, monkeypatch):
    monkeypatch.setattr(reference_module, "FD_SAMPLES", 300)   # the quality figures' sample count, cut for speed
    store = CheckpointStore(tmp_path / "store")
    results = stylegan_r1_sweep([0.5, 2.0], 2, store, dataset="mnist5k", reference=TINY_REFERENCE,
                                published=isolated(tmp_path))
    assert set(results) == {0.5, 2.0}
    for quality in results.values():
        assert quality["frechet_distance"] > 0 and 0 <= quality["smallest_class_share"] <= 0.1
    assert sorted(path.name.rsplit("-", 1)[0] for path in store.root.glob("stylegan*.pt")) \
        == ["stylegan-r1-0.5", "stylegan-r1-2"]


def test_quality_figures_print_rates_in_percent_with_what_they_were_measured_on():
    assert quality_text("targeted_success", 0.83912).endswith("of 10,000) 83.9%")
    assert quality_text("untargeted_success", 0.5).startswith("untargeted success (the test images classifier A")
    assert quality_text("frechet_distance", 41.237) == "Fréchet distance (10,000 samples vs the test set) 41.24"
    assert quality_text("brand_new_figure", 1.5) == "brand new figure 1.5"
