"""Shared fixtures: the repository's layout, and real MNIST data with a model trained on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from gancourse.book.layout import BookLayout
from gancourse.data import make_loaders
from gancourse.models.classifiers import build_classifier
from gancourse.profiles import PROFILES
from gancourse.train.classifier import train_classifier

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def layout() -> BookLayout:
    return BookLayout(REPOSITORY)


FIXTURE_PROFILE = dataclasses.replace(PROFILES["smoke"], train_size=None, test_size=None, batch_size=64)


@pytest.fixture(scope="module")
def mnist():
    """The real 5,000-image MNIST subset (4,000 train / 1,000 test) and model D trained on it (~2 s);
    one per test module, so no module sees another's changes to the model."""
    bundle = make_loaders("mnist5k", FIXTURE_PROFILE, seed=0)
    torch.manual_seed(0)
    model = build_classifier("D")
    train_classifier(model, bundle.train_loader, epochs=5)
    return bundle, model
