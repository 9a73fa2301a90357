"""Shared fixtures: the repository's layout, a tiny convnet, and real MNIST data with a model trained on it."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from gancourse.book.layout import BookLayout
from gancourse.data import make_loaders
from gancourse.models.classifiers import build_classifier
from gancourse.profiles import PROFILES
from gancourse.train.classifier import train_classifier

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def no_published_weights(tmp_path_factory):
    """Every test sees an empty weights folder (never the repository's published models, which would replace
    the tiny models the tests train); tests of the published weights pass their own folders."""
    folder = tmp_path_factory.mktemp("weights")
    (folder / "manifest.json").write_text('{"format_version": 1, "files": []}\n')
    patch = pytest.MonkeyPatch()
    patch.setenv("GANCOURSE_WEIGHTS_DIR", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def layout() -> BookLayout:
    return BookLayout(REPOSITORY)


@pytest.fixture(scope="session")
def tiny_convnet() -> Callable[..., nn.Sequential]:
    """A factory of small seeded convnets for any image size: conv, pool to 2×2, linear."""

    def build(channels: int = 1, classes: int = 5) -> nn.Sequential:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.3),
                             nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, classes))

    return build


FIXTURE_PROFILE = dataclasses.replace(PROFILES["smoke"], train_size=None, test_size=None, batch_size=64)


@pytest.fixture(scope="session")
def trained_mnist():
    """The real 5,000-image MNIST subset (4,000 train / 1,000 test), model D trained on it (~2 s), and the
    global random state right after the training; trained once per test run. Tests take ``mnist``."""
    bundle = make_loaders("mnist5k", FIXTURE_PROFILE, seed=0)
    torch.manual_seed(0)
    model = build_classifier("D")
    train_classifier(model, bundle.train_loader, epochs=5)
    return bundle, model, torch.get_rng_state()


@pytest.fixture(scope="module")
def mnist(trained_mnist):
    """A fresh deep copy of ``trained_mnist``'s bundle and model for each test module, with the global random
    state reset to the one right after the training: every module starts as if it had trained the model itself,
    and no module sees another's changes to the model, the data or the training loader's shuffling."""
    bundle, model, random_state = trained_mnist
    torch.set_rng_state(random_state)
    return copy.deepcopy(bundle), copy.deepcopy(model)
