import hashlib
import os
import pickle

import pytest
import torch
from torch import nn

from gancourse.checkpoints import (
    CheckpointError,
    CheckpointStore,
    CheckpointWarning,
    config_hash,
    tensors_digest,
)

CONFIG = {"model": "tiny", "epochs": 2, "lr": 0.001, "sizes": [4, 3]}


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


class CountingTrainer:
    """A 'training' that changes the weights deterministically and counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, model, progress):
        self.calls += 1
        self.progress_path = progress.path
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
        return {"accuracy": 0.75, "curve": [1.0, 0.5]}


def test_config_hash_is_sha256_of_canonical_json():
    expected = hashlib.sha256(b'{"epochs":2,"lr":0.001,"model":"tiny","sizes":[4,3]}').hexdigest()[:16]
    assert config_hash(CONFIG) == expected
    assert config_hash(dict(reversed(list(CONFIG.items())))) == expected
    assert config_hash({**CONFIG, "lr": 0.002}) != expected


def test_configs_must_be_json():
    with pytest.raises(TypeError, match="JSON"):
        config_hash({"model": nn.Linear(1, 1)})
    with pytest.raises(TypeError, match="JSON"):
        config_hash({"lr": float("nan")})


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "-dash", "with space"])
def test_bad_names_are_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="not valid"):
        CheckpointStore(tmp_path).path(bad, CONFIG)


def test_round_trip_restores_weights_and_metadata(tmp_path):
    store = CheckpointStore(tmp_path)
    model = tiny_model(seed=1)
    path = store.save("net", CONFIG, model, {"accuracy": 0.5})
    assert path == tmp_path / f"net-{config_hash(CONFIG)}.pt"
    fresh = tiny_model(seed=2)
    assert not torch.equal(fresh[0].weight, model[0].weight)
    metadata = store.load("net", CONFIG, fresh)
    assert metadata == {"accuracy": 0.5}
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_files_load_with_weights_only(tmp_path):
    path = CheckpointStore(tmp_path).save("net", CONFIG, tiny_model())
    payload = torch.load(path, weights_only=True)
    assert payload["state_digest"] == tensors_digest(payload["state_dict"])


def test_load_or_train_trains_once_then_loads(tmp_path):
    store, trainer = CheckpointStore(tmp_path), CountingTrainer()
    first, record = store.load_or_train("net", CONFIG, tiny_model, trainer)
    assert (record.source, trainer.calls) == ("trained", 1)
    assert record.metadata == {"accuracy": 0.75, "curve": [1.0, 0.5]}
    assert trainer.progress_path == store.progress("net", CONFIG).path
    second, record = store.load_or_train("net", CONFIG, tiny_model, trainer)
    assert (record.source, trainer.calls) == ("loaded", 1)
    assert record.metadata == {"accuracy": 0.75, "curve": [1.0, 0.5]}
    assert not second.training
    assert torch.equal(first[0].weight, second[0].weight)
    assert not torch.equal(second[0].weight, tiny_model()[0].weight)


def fetch_from(source):
    """A fetch that copies ``source``'s weights and counts its calls (None: it has nothing)."""
    calls = []

    def fetch(model):
        calls.append(model)
        if source is None:
            return None
        model.load_state_dict(source.state_dict())
        return {"published": {"steps": 7}}

    return fetch, calls


def test_fetched_weights_are_stored_then_loaded_and_never_trained(tmp_path):
    store, trainer, source = CheckpointStore(tmp_path), CountingTrainer(), tiny_model(seed=5)
    fetch, calls = fetch_from(source)
    store.progress("net", CONFIG).save({"step": 3})
    model, record = store.load_or_train("net", CONFIG, tiny_model, trainer, fetch=fetch)
    assert (record.source, trainer.calls, len(calls)) == ("published", 0, 1)
    assert record.metadata == {"published": {"steps": 7}} and not model.training
    assert torch.equal(model[0].weight, source[0].weight) and record.path.is_file()
    assert not store.progress("net", CONFIG).path.exists()  # the finished model makes the progress moot
    again, second = store.load_or_train("net", CONFIG, tiny_model, trainer, fetch=fetch)
    assert (second.source, len(calls)) == ("loaded", 1) and second.metadata == record.metadata
    assert torch.equal(again[0].weight, source[0].weight)


def test_a_fetch_with_nothing_trains_and_a_corrupted_file_is_fetched_again(tmp_path):
    store, trainer = CheckpointStore(tmp_path), CountingTrainer()
    nothing, calls = fetch_from(None)
    _, record = store.load_or_train("net", CONFIG, tiny_model, trainer, fetch=nothing)
    assert (record.source, trainer.calls, len(calls)) == ("trained", 1, 1)
    record.path.write_bytes(record.path.read_bytes()[:200])
    fetch, _ = fetch_from(tiny_model(seed=5))
    with pytest.warns(CheckpointWarning, match="corrupted"):
        _, again = store.load_or_train("net", CONFIG, tiny_model, trainer, fetch=fetch)
    assert (again.source, trainer.calls) == ("published", 1)


def test_a_changed_config_is_a_new_key_and_trains_again(tmp_path):
    store, trainer = CheckpointStore(tmp_path), CountingTrainer()
    store.load_or_train("net", CONFIG, tiny_model, trainer)
    _, record = store.load_or_train("net", {**CONFIG, "epochs": 3}, tiny_model, trainer)
    assert (record.source, trainer.calls) == ("trained", 2)
    assert len(store.entries()) == 2


def test_a_truncated_file_is_reported_and_retrained(tmp_path):
    store, trainer = CheckpointStore(tmp_path), CountingTrainer()
    _, record = store.load_or_train("net", CONFIG, tiny_model, trainer)
    record.path.write_bytes(record.path.read_bytes()[:200])
    with pytest.warns(CheckpointWarning, match="corrupted"):
        _, again = store.load_or_train("net", CONFIG, tiny_model, trainer)
    assert (again.source, trainer.calls) == ("trained", 2)
    assert store.load_or_train("net", CONFIG, tiny_model, trainer)[1].source == "loaded"


def test_changed_tensor_bytes_are_caught_by_the_digest(tmp_path):
    store = CheckpointStore(tmp_path)
    path = store.save("net", CONFIG, tiny_model())
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["0.weight"][0, 0] += 1e-3
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="digest"):
        store.load("net", CONFIG, tiny_model())


def test_a_file_stored_for_another_config_is_a_mismatch(tmp_path):
    store = CheckpointStore(tmp_path)
    other = {**CONFIG, "lr": 0.1}
    os.replace(store.save("net", other, tiny_model()), store.path("net", CONFIG))
    with pytest.raises(CheckpointError, match="was stored for"):
        store.load("net", CONFIG, tiny_model())
    with pytest.warns(CheckpointWarning, match="was stored for"):
        _, record = store.load_or_train("net", CONFIG, tiny_model, CountingTrainer())
    assert record.source == "trained"


def test_weights_that_do_not_fit_the_model_are_a_mismatch(tmp_path):
    store = CheckpointStore(tmp_path)
    store.save("net", CONFIG, tiny_model())
    with pytest.warns(CheckpointWarning, match="does not fit"):
        model, record = store.load_or_train("net", CONFIG, lambda: nn.Linear(4, 2), CountingTrainer())
    assert record.source == "trained" and isinstance(model, nn.Linear)


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned-marker",))


def test_a_pickle_with_code_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = CheckpointStore(tmp_path)
    with open(store.path("net", CONFIG), "wb") as file:
        torch.save({"format_version": 1, "evil": Payload()}, file, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="corrupted or not a gancourse checkpoint"):
        store.load("net", CONFIG, tiny_model())
    assert not (tmp_path / "pwned-marker").exists()


def test_an_interrupted_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path)
    path = store.save("net", CONFIG, tiny_model(seed=1), {"version": "old"})
    before = path.read_bytes()

    def crash_midway(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        store.save("net", CONFIG, tiny_model(seed=2), {"version": "new"})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        CheckpointStore(tmp_path).save("net", CONFIG, tiny_model(), {"tensor": torch.ones(1)})


def test_progress_round_trip_and_clear(tmp_path):
    progress = CheckpointStore(tmp_path).progress("net", CONFIG)
    assert progress.load() is None
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    progress.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3})
    state = progress.load()
    assert state["epoch"] == 3
    assert torch.equal(state["model"]["0.weight"], model[0].weight)
    restored = torch.optim.Adam(tiny_model().parameters())
    restored.load_state_dict(state["optimizer"])
    assert progress.path.name.endswith(".progress.pt") and progress.path not in CheckpointStore(tmp_path).entries()
    progress.clear()
    assert progress.load() is None


def test_a_corrupted_progress_file_is_reported_and_discarded(tmp_path):
    progress = CheckpointStore(tmp_path).progress("net", CONFIG)
    progress.save({"epoch": 1, "weights": torch.ones(3)})
    progress.path.write_bytes(b"garbage")
    with pytest.warns(CheckpointWarning, match="afresh"):
        assert progress.load() is None
    assert not progress.path.exists()


def test_the_default_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_CHECKPOINT_DIR", str(tmp_path / "elsewhere"))
    assert CheckpointStore().root == tmp_path / "elsewhere"


def test_load_or_train_hands_over_the_progress_file_and_clears_it(tmp_path):
    store = CheckpointStore(tmp_path)

    def train_and_leave_progress(model, progress):
        progress.save({"epoch": 0, "weights": torch.ones(2)})
        return None

    _, record = store.load_or_train("net", CONFIG, tiny_model, train_and_leave_progress)
    assert record.source == "trained" and record.metadata == {}
    assert not store.progress("net", CONFIG).path.exists()
