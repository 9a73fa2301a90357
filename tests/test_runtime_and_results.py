import random

import numpy as np
import pytest
import torch

from gancourse import paths
from gancourse.results import GLUE_MIME_PREFIX, read_recorded, record, slug
from gancourse.runtime import package_versions, seed_everything, start_chapter


def test_seed_everything_repeats_every_generator():
    seed_everything(5)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(5)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


def test_package_versions_name_python_and_torch():
    versions = package_versions()
    assert versions["torch"].startswith(torch.__version__.split("+")[0])
    assert versions["python"].count(".") == 2


def test_start_chapter_validates_its_parameters(capsys):
    with pytest.raises(ValueError, match="unknown profile"):
        start_chapter("turbo", "fashion-mnist", 0)
    with pytest.raises(ValueError, match="unknown dataset"):
        start_chapter("smoke", "imagenet", 0)
    run = start_chapter("smoke", "mnist5k", 1)
    assert (run.profile.name, run.dataset, run.seed) == ("smoke", "mnist5k", 1)
    assert "profile smoke" in capsys.readouterr().out


def test_record_rejects_bad_names_and_values():
    with pytest.raises(ValueError, match="letters, digits"):
        record("has space", 1)
    with pytest.raises(TypeError, match="JSON value"):
        record("tensor", torch.ones(2))
    with pytest.raises(TypeError, match="JSON value"):
        record("nan", float("nan"))


def test_read_recorded_reads_glue_outputs_with_their_json_value():
    output = {"output_type": "display_data",
              "data": {GLUE_MIME_PREFIX + "text/plain": "0.25"},
              "metadata": {"scrapbook": {"name": "score", "mime_prefix": GLUE_MIME_PREFIX},
                           "gancourse": {"value": 0.25}}}
    plain = {"output_type": "stream", "name": "stdout", "text": "hello"}
    notebook = {"cells": [{"cell_type": "code", "outputs": [plain, output]}, {"cell_type": "markdown"}]}
    assert read_recorded(notebook) == {"score": 0.25}


def test_folders_follow_configure_then_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "_configured", {})
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "env-data"))
    monkeypatch.delenv(paths.CHECKPOINT_DIR_ENV, raising=False)
    assert paths.data_dir() == tmp_path / "env-data"
    assert paths.checkpoint_dir() == tmp_path / "env-data" / "checkpoints"
    paths.configure(checkpoint_dir=tmp_path / "drive")
    assert paths.checkpoint_dir() == tmp_path / "drive" and paths.data_dir() == tmp_path / "env-data"
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    assert paths.data_dir() == paths.repository_root() / "data"


def test_slug_turns_labels_into_record_names():
    assert slug("C&W L2") == "C_W_L2"
    assert slug("Defense-GAN-Orig") == "Defense_GAN_Orig"
    assert slug("adv. training") == "adv_training"
    assert slug("RAND+FGSM") == "RAND_FGSM"


def test_auto_without_a_gpu_says_it_runs_the_cpu_budget_and_how_to_get_a_gpu():
    import torch

    from gancourse.runtime import hardware_note

    colab = hardware_note("auto", torch.device("cpu"), in_colab=True)
    assert "cpu budget" in colab and "Change runtime type → GPU" in colab
    assert "CUDA GPU" in hardware_note("auto", torch.device("cpu"), in_colab=False)
    assert hardware_note("auto", torch.device("cuda"), in_colab=True) is None
    assert hardware_note("cpu", torch.device("cpu"), in_colab=True) is None      # the reader chose


def test_google_drive_storage_outside_colab_is_a_clear_error():
    import pytest

    from gancourse.paths import use_google_drive

    with pytest.raises(RuntimeError, match="Colab only.*configure"):
        use_google_drive()
