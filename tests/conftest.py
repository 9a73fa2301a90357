"""Shared fixtures: the repository's layout and a small, seeded data bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from gancourse.book import BookLayout

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def layout() -> BookLayout:
    return BookLayout(REPOSITORY)
