import dataclasses
import hashlib
import json
import os
import pickle
import types

import pytest
import torch
from torch import nn

from gancourse import weights as published_weights
from gancourse.checkpoints import CheckpointStore
from gancourse.cli import main
from gancourse.data import DataBundle, dataset_info
from gancourse.profiles import PROFILES
from gancourse.runtime import ChapterRun
from gancourse.weights import (
    ManifestError,
    Provenance,
    PublishedWeights,
    PublishedWeightsWarning,
    config_repository,
    default_weights_url,
    manifest_table,
    publish,
    raw_weights_url,
    read_manifest,
    unpublish,
    verify_folder,
)
from gancourse.zoo import Call, Zoo

CONFIG = {"model": "tiny", "epochs": 2, "sizes": [4, 3]}
PROVENANCE = Provenance(budget="100 steps, batch 8", steps=100, wall_seconds=12.5, device="cpu (2 cores)",
                        commit="0123abc", date="2026-05-09", quality={"test_accuracy": 0.5})


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(4, 3)


def published(tmp_path, dtype="float32", model=None):
    """A store holding a trained tiny model, and that model published into tmp_path/weights."""
    store = CheckpointStore(tmp_path / "store")
    model = model if model is not None else tiny_model(seed=1)
    store.save("tiny", CONFIG, model, {"history": {"loss": [1.0, 0.5]}, "test_accuracy": 0.5})
    entry = publish(store, "tiny", CONFIG, dtype, PROVENANCE, folder=tmp_path / "weights")
    return model, entry


def local(tmp_path):
    return PublishedWeights(folder=tmp_path / "weights", base_url=(tmp_path / "nowhere").as_uri(),
                            cache=tmp_path / "cache")


def test_publish_writes_the_file_and_its_manifest_entry(tmp_path):
    _, entry = published(tmp_path)
    path = tmp_path / "weights" / entry.file
    assert entry.file == CheckpointStore(tmp_path / "store").path("tiny", CONFIG).name
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and entry.size == path.stat().st_size
    assert read_manifest(tmp_path / "weights") == {entry.file: entry}
    assert entry.config == CONFIG and entry.provenance == PROVENANCE
    assert verify_folder(tmp_path / "weights") == []
    table = manifest_table(read_manifest(tmp_path / "weights"))
    assert entry.file in table and "float32" in table and "test_accuracy 0.5" in table


def test_publishing_the_same_model_again_keeps_its_provenance_and_a_new_model_replaces_it(tmp_path):
    _, entry = published(tmp_path)
    store, folder = CheckpointStore(tmp_path / "store"), tmp_path / "weights"
    later = dataclasses.replace(PROVENANCE, commit="fedcba9", date="2026-12-07", wall_seconds=0.0)
    assert publish(store, "tiny", CONFIG, "float32", later, folder=folder) == entry      # same bytes: unchanged
    assert read_manifest(folder)[entry.file].provenance == PROVENANCE
    store.save("tiny", CONFIG, tiny_model(seed=2), {"history": {"loss": [1.0, 0.4]}, "test_accuracy": 0.6})
    retrained = publish(store, "tiny", CONFIG, "float32", later, folder=folder)         # new bytes: new entry
    assert retrained.sha256 != entry.sha256 and read_manifest(folder)[entry.file].provenance == later


def test_unpublish_removes_the_file_and_its_entry_and_refuses_an_unknown_file(tmp_path):
    _, entry = published(tmp_path)
    folder = tmp_path / "weights"
    with pytest.raises(ValueError, match="not published"):
        unpublish("other.pt", folder)
    assert main(["weights", "remove", entry.file, "--folder", str(folder)]) == 0
    assert read_manifest(folder) == {} and not (folder / entry.file).exists() and verify_folder(folder) == []


def test_float32_round_trip_is_exact(tmp_path):
    original, _ = published(tmp_path, "float32")
    model = tiny_model(seed=2)
    metadata = local(tmp_path).load_into("tiny", CONFIG, model)
    assert torch.equal(model.weight, original.weight) and torch.equal(model.bias, original.bias)
    assert metadata["history"] == {"loss": [1.0, 0.5]} and metadata["test_accuracy"] == 0.5
    assert metadata["published"]["steps"] == 100 and metadata["published"]["dtype"] == "float32"


def test_float16_is_stored_half_and_loaded_back_as_the_models_dtype_within_tolerance(tmp_path):
    original, entry = published(tmp_path, "float16")
    stored = torch.load(tmp_path / "weights" / entry.file, weights_only=True)["state_dict"]
    assert stored["weight"].dtype == torch.float16
    model = tiny_model(seed=2)
    assert local(tmp_path).load_into("tiny", CONFIG, model) is not None
    assert model.weight.dtype == torch.float32
    error = (model.weight - original.weight).abs() / original.weight.abs()
    assert 0 < error.max() <= 2 ** -11  # float16 has an 11-bit significand: rounding is at most half an ulp


def test_a_value_float16_cannot_hold_is_refused(tmp_path):
    model = tiny_model()
    with torch.no_grad():
        model.weight[0, 0] = 1e6
    with pytest.raises(ValueError, match="publish it as float32"):
        published(tmp_path, "float16", model)
    assert not (tmp_path / "weights").exists()


def test_a_tampered_file_is_refused_by_verify_and_by_load(tmp_path):
    _, entry = published(tmp_path)
    path = tmp_path / "weights" / entry.file
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    assert verify_folder(tmp_path / "weights") == [
        f"{entry.file} has SHA-256 {actual}, but the manifest expects {entry.sha256}"]
    model = tiny_model(seed=2)
    before = model.weight.clone()
    with pytest.warns(PublishedWeightsWarning) as caught:
        assert local(tmp_path).load_into("tiny", CONFIG, model) is None
    message = str(caught[0].message)
    assert entry.file in message and actual in message and entry.sha256 in message
    assert "trained with the profile's budget instead" in message
    assert torch.equal(model.weight, before)


def test_verify_reports_missing_unlisted_and_oversized(tmp_path):
    _, entry = published(tmp_path)
    folder = tmp_path / "weights"
    (folder / "stray-0123.pt").write_bytes(b"not listed")
    assert verify_folder(folder) == [f"stray-0123.pt is in {folder} but not in its manifest (publish it, or remove it)"]
    (folder / entry.file).unlink()
    problems = verify_folder(folder, budget_bytes=1)
    assert problems[0] == f"{entry.file} is listed in the manifest but missing from {folder}"
    assert "over its budget" in problems[-1] and len(problems) == 3


def test_the_cli_verifies_and_lists(tmp_path, capsys):
    _, entry = published(tmp_path)
    folder = str(tmp_path / "weights")
    assert main(["weights", "verify", "--folder", folder]) == 0
    assert main(["weights", "list", "--folder", folder]) == 0
    assert entry.file in capsys.readouterr().out
    (tmp_path / "weights" / entry.file).write_bytes(b"tampered")
    assert main(["weights", "verify", "--folder", folder]) == 1
    assert f"{entry.file} has 8 bytes, but the manifest lists {entry.size}" in capsys.readouterr().err


def manifest_with(tmp_path, change):
    _, entry = published(tmp_path)
    manifest = json.loads((tmp_path / "weights" / "manifest.json").read_text())
    change(manifest)
    (tmp_path / "weights" / "manifest.json").write_text(json.dumps(manifest))
    return entry


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(format_version=2), "format_version"),
    (lambda m: m["files"][0].pop("sha256"), r"missing fields \['sha256'\]"),
    (lambda m: m["files"][0]["provenance"].update(seconds=3), r"unknown fields \['seconds'\]"),
    (lambda m: m["files"][0]["config"].update(epochs=3), "is not the hash of its config"),
    (lambda m: m["files"][0].update(sha256="abc"), "64 lower-case hex"),
    (lambda m: m["files"][0].update(dtype="bfloat16"), "dtype must be one of"),
    (lambda m: m["files"][0]["provenance"].update(date="yesterday"), "ISO 8601"),
    (lambda m: m["files"][0].update(name="../tiny", file=f"../tiny-{m['files'][0]['config_hash']}.pt"), "not valid"),
    (lambda m: m["files"].append(m["files"][0]), "twice"),
])
def test_a_malformed_manifest_is_a_clear_error(tmp_path, change, message):
    manifest_with(tmp_path, change)
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path / "weights")
    with pytest.raises(ManifestError, match=message):
        local(tmp_path).load_into("tiny", CONFIG, tiny_model())
    assert verify_folder(tmp_path / "weights")[0].startswith(str(tmp_path / "weights" / "manifest.json"))


def test_a_manifest_that_is_not_json_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{files: []}")
    with pytest.raises(ManifestError, match="is not valid JSON"):
        read_manifest(tmp_path)


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned-marker",))


def test_a_file_with_pickled_code_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, entry = published(tmp_path)
    path = tmp_path / "weights" / entry.file
    with open(path, "wb") as file:
        torch.save({"format_version": 1, "evil": Payload()}, file, pickle_module=pickle)
    manifest = json.loads((tmp_path / "weights" / "manifest.json").read_text())  # its checksum is right
    manifest["files"][0].update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    (tmp_path / "weights" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(PublishedWeightsWarning, match="cannot be read with weights_only=True"):
        assert local(tmp_path).load_into("tiny", CONFIG, tiny_model()) is None
    assert not (tmp_path / "pwned-marker").exists()


def test_weights_that_do_not_fit_the_model_are_refused(tmp_path):
    published(tmp_path)
    with pytest.warns(PublishedWeightsWarning, match=r"does not fit .* other shapes \['bias', 'weight'\]"):
        assert local(tmp_path).load_into("tiny", CONFIG, nn.Linear(4, 5)) is None


def test_without_the_folder_the_manifest_and_file_are_downloaded_checked_and_cached(tmp_path):
    original, entry = published(tmp_path)
    remote = PublishedWeights(folder=tmp_path / "absent", base_url=(tmp_path / "weights").as_uri(),
                              cache=tmp_path / "cache")
    model = tiny_model(seed=2)
    assert remote.load_into("tiny", CONFIG, model)["published"]["file"] == entry.file
    assert torch.equal(model.weight, original.weight)
    cached = tmp_path / "cache" / entry.file
    assert cached.read_bytes() == (tmp_path / "weights" / entry.file).read_bytes()
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == [entry.file]  # no temporaries


def test_a_file_missing_from_the_local_folder_is_downloaded(tmp_path):
    original, entry = published(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (tmp_path / "weights" / entry.file).rename(mirror / entry.file)
    weights = PublishedWeights(folder=tmp_path / "weights", base_url=mirror.as_uri() + "/", cache=tmp_path / "cache")
    model = tiny_model(seed=2)
    assert weights.load_into("tiny", CONFIG, model) is not None and torch.equal(model.bias, original.bias)
    assert (tmp_path / "cache" / entry.file).is_file()


def test_a_wrong_download_is_refused_and_not_kept(tmp_path):
    _, entry = published(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / entry.file).write_bytes(b"something else")
    (tmp_path / "weights" / entry.file).unlink()
    weights = PublishedWeights(folder=tmp_path / "weights", base_url=mirror.as_uri(), cache=tmp_path / "cache")
    with pytest.warns(PublishedWeightsWarning) as caught:
        assert weights.load_into("tiny", CONFIG, tiny_model()) is None
    message = str(caught[0].message)
    assert f"the download from {mirror.as_uri()}/{entry.file} has SHA-256 " \
           f"{hashlib.sha256(b'something else').hexdigest()}, but the manifest expects {entry.sha256}" in message
    assert not any((tmp_path / "cache").iterdir())


def test_a_failed_download_is_a_warning_then_none(tmp_path):
    _, entry = published(tmp_path)
    (tmp_path / "weights" / entry.file).unlink()
    with pytest.warns(PublishedWeightsWarning, match=f"{entry.file} not used: downloading it from .* failed"):
        assert local(tmp_path).load_into("tiny", CONFIG, tiny_model()) is None


def test_no_known_download_url_is_a_warning_then_none(tmp_path, monkeypatch):
    _, entry = published(tmp_path)
    (tmp_path / "weights" / entry.file).unlink()
    monkeypatch.setattr(published_weights, "default_weights_url", lambda: None)
    weights = PublishedWeights(folder=tmp_path / "weights", cache=tmp_path / "cache")
    with pytest.warns(PublishedWeightsWarning, match="no download URL is known .*GANCOURSE_WEIGHTS_URL"):
        assert weights.load_into("tiny", CONFIG, tiny_model()) is None
    monkeypatch.setattr(published_weights, "default_weights_url",
                        lambda: raw_weights_url("https://gitlab.com/a/b", "x"))
    with pytest.warns(PublishedWeightsWarning, match="no raw-file URL is known for 'https://gitlab.com/a/b'"):
        assert weights.load_into("tiny", CONFIG, tiny_model()) is None


def test_a_manifest_that_cannot_be_downloaded_means_no_published_weights(tmp_path):
    weights = PublishedWeights(folder=tmp_path / "absent", base_url=(tmp_path / "nowhere").as_uri(),
                               cache=tmp_path / "cache")
    with pytest.warns(PublishedWeightsWarning, match="could not be downloaded"):
        assert weights.entries() == {}
    assert weights.load_into("tiny", CONFIG, tiny_model()) is None  # read once: no second warning


def test_the_raw_file_url_of_a_github_repository():
    assert raw_weights_url("https://github.com/gancourse/gancourse", "main") == \
        "https://raw.githubusercontent.com/gancourse/gancourse/main/weights/"
    assert raw_weights_url("https://github.com/me/my.book.git", "0123abcd") == \
        "https://raw.githubusercontent.com/me/my.book/0123abcd/weights/"
    with pytest.raises(ValueError, match="GANCOURSE_WEIGHTS_URL"):
        raw_weights_url("https://gitlab.com/me/book", "main")
    with pytest.raises(ValueError, match="no raw-file URL"):
        raw_weights_url("https://github.com/me/book", "../main")


def test_the_download_url_comes_from_the_config_or_the_pip_install(monkeypatch):
    text = "title: x\nrepository:\n  url: https://github.com/org/book  # the repository\n  branch: \"term-2\"\nhtml:\n"
    assert config_repository(text) == ("https://github.com/org/book", "term-2")
    assert config_repository("repository:\n  url: https://github.com/org/book\n")[1] == "main"
    with pytest.raises(ValueError, match="set-repository"):
        config_repository("title: x\nhtml:\n  url: https://github.com/org/book\n")
    monkeypatch.delenv(published_weights.WEIGHTS_URL_ENV, raising=False)
    assert default_weights_url() == "https://raw.githubusercontent.com/gancourse/gancourse/main/weights/"  # checkout
    monkeypatch.setattr(published_weights, "repository_root", lambda: None)
    record = {"url": "https://github.com/org/book", "vcs_info": {"vcs": "git", "commit_id": "f00d"}}
    installed = types.SimpleNamespace(read_text=lambda name: json.dumps(record) if name == "direct_url.json" else None)
    monkeypatch.setattr(published_weights.importlib.metadata, "distribution", lambda name: installed)
    assert default_weights_url() == "https://raw.githubusercontent.com/org/book/f00d/weights/"
    record.pop("vcs_info")  # a pip install from a wheel or a folder: no repository to download from
    assert default_weights_url() is None
    monkeypatch.setenv(published_weights.WEIGHTS_URL_ENV, "file:///mirror")
    assert default_weights_url() == "file:///mirror"


def test_the_folder_budget_is_enforced_with_the_sizes(tmp_path):
    _, entry = published(tmp_path)
    store = CheckpointStore(tmp_path / "store")
    other = {**CONFIG, "epochs": 3}
    store.save("tiny", other, tiny_model(seed=3))
    before = (tmp_path / "weights" / "manifest.json").read_text()
    folder_size = sum(path.stat().st_size for path in (tmp_path / "weights").iterdir())
    with pytest.raises(ValueError, match=rf"over its budget of 0.00 MB \({folder_size:,} bytes\): the other files "
                                         rf"hold 0.00 MB \({folder_size:,} bytes\) now"):
        publish(store, "tiny", other, "float32", PROVENANCE, folder=tmp_path / "weights", budget_bytes=folder_size)
    assert (tmp_path / "weights" / "manifest.json").read_text() == before
    assert sorted(path.name for path in (tmp_path / "weights").iterdir()) == sorted([entry.file, "manifest.json"])
    # republishing a file replaces it: its old size does not count against the budget
    again = publish(store, "tiny", CONFIG, "float16", PROVENANCE, folder=tmp_path / "weights",
                    budget_bytes=folder_size)
    assert read_manifest(tmp_path / "weights") == {entry.file: again} and again.dtype == "float16"


def test_publishing_needs_a_stored_model_and_a_known_dtype(tmp_path):
    store = CheckpointStore(tmp_path / "store")
    with pytest.raises(FileNotFoundError):
        publish(store, "tiny", CONFIG, "float32", PROVENANCE, folder=tmp_path / "weights")
    with pytest.raises(ValueError, match="dtype must be one of"):
        publish(store, "tiny", CONFIG, "int8", PROVENANCE, folder=tmp_path / "weights")
    with pytest.raises(ValueError, match="wall_seconds"):
        Provenance("x", 1, float("nan"), "cpu", "abc", "2026-05-09", {})


# --- the recipes: local store, then published weights, then training ---------------------------------------

def tiny_bundle():
    images, labels = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=4)
    return DataBundle(dataset_info("mnist5k"), None, None, images, labels, images, labels, loader, loader)


def nudge(model, amount=0.25):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(amount)
    return {"loss": [float(amount)]}


class CountingWeights(PublishedWeights):
    """Published weights that count how often they are consulted."""

    consulted = 0

    def entries(self):
        CountingWeights.consulted += 1
        return super().entries()


def make_probe(zoo, trained):
    trainer = Call(nudge)

    def train(model, progress):
        trained.append(model)
        return trainer(model)

    return zoo.make("probe", Call(nn.Linear, 4, 3), trainer, train, evaluate=lambda model: {"test_accuracy": 0.9})


def reference_zoo_and_folder(tmp_path):
    """A probe trained into a reference store and published into tmp_path/weights."""
    bundle, trained = tiny_bundle(), []
    reference = Zoo(PROFILES["smoke"], bundle, 0, store=CheckpointStore(tmp_path / "reference"), weights="train")
    model, record = make_probe(reference, trained)
    config = json.loads(torch.load(record.path, weights_only=True)["config_json"])
    publish(reference.store, "probe", config, "float32", PROVENANCE, folder=tmp_path / "weights")
    return bundle, model


def test_published_weights_are_loaded_into_the_recipe_and_stored_locally(tmp_path):
    bundle, reference = reference_zoo_and_folder(tmp_path)
    trained = []
    zoo = Zoo(PROFILES["smoke"], bundle, 0, store=CheckpointStore(tmp_path / "store"), published=local(tmp_path))
    model, record = make_probe(zoo, trained)
    assert record.source == "published" and trained == []
    assert torch.equal(model.weight, reference.weight) and not model.training
    assert record.metadata["published"] == {"file": record.path.name, "dtype": "float32",
                                            "sha256": read_manifest(tmp_path / "weights")[record.path.name].sha256,
                                            **dataclasses.asdict(PROVENANCE)}
    assert record.metadata["history"] == {"loss": [0.25]} and record.metadata["test_accuracy"] == 0.9
    assert record.path.parent == tmp_path / "store" and record.path.is_file()
    _, again = make_probe(zoo, trained)  # now the local store has it
    assert again.source == "loaded" and again.metadata == record.metadata and trained == []


def test_weights_train_never_consults_the_published_weights(tmp_path):
    bundle, reference = reference_zoo_and_folder(tmp_path)
    trained = []
    CountingWeights.consulted = 0
    counting = CountingWeights(folder=tmp_path / "weights", base_url=(tmp_path / "nowhere").as_uri())
    zoo = Zoo(PROFILES["smoke"], bundle, 0, store=CheckpointStore(tmp_path / "store"), weights="train",
              published=counting)
    _, record = make_probe(zoo, trained)
    assert record.source == "trained" and len(trained) == 1 and "published" not in record.metadata
    assert CountingWeights.consulted == 0


def test_a_refused_published_file_means_the_recipe_trains(tmp_path):
    bundle, _ = reference_zoo_and_folder(tmp_path)
    for path in (tmp_path / "weights").glob("*.pt"):
        path.write_bytes(path.read_bytes()[:-10])
    trained = []
    zoo = Zoo(PROFILES["smoke"], bundle, 0, store=CheckpointStore(tmp_path / "store"), published=local(tmp_path))
    with pytest.warns(PublishedWeightsWarning, match="trained with the profile's budget instead"):
        _, record = make_probe(zoo, trained)
    assert record.source == "trained" and len(trained) == 1


def test_the_weights_switch_is_validated_and_passed_by_for_chapter(tmp_path):
    with pytest.raises(ValueError, match="'published' .* or 'train'"):
        Zoo(PROFILES["smoke"], tiny_bundle(), 0, weights="mine")
    store = CheckpointStore(tmp_path)
    for weights in ("published", "train"):
        run = ChapterRun(PROFILES["smoke"], "mnist5k", 0, torch.device("cpu"), weights)
        zoo = Zoo.for_chapter(run, tiny_bundle(), store)
        assert zoo.weights == weights and zoo.announce


def test_the_weights_folder_can_be_chosen_by_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_WEIGHTS_DIR", str(tmp_path / "elsewhere"))
    assert PublishedWeights().folder == tmp_path / "elsewhere"
    assert PublishedWeights(folder=tmp_path).folder == tmp_path          # an explicit folder wins
    monkeypatch.delenv("GANCOURSE_WEIGHTS_DIR")
    assert PublishedWeights().folder == published_weights.weights_folder()
