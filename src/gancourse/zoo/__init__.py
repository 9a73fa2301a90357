"""The book's trained models, each one call away: load from the checkpoint store, or train and store.

A chapter makes one :class:`Zoo` for its run and asks it for models::

    run = start_chapter(profile, dataset, seed)
    bundle = make_loaders(dataset, run.profile, seed)
    models = Zoo.for_chapter(run, bundle)
    classifier, record = models.classifier("A")
    pair, record = models.wgan_gp()

Chapters share models through these recipes, never through files copied by hand: chapter 01 trains the
DCGAN that chapter 02 compares against, chapter 02 trains the WGAN-GP generator that Defense-GAN (chapter
09) projects onto, and the classifiers are trained once for every chapter that needs them. Each recipe's
configuration is built from the values its networks and trainer are called with (:mod:`gancourse.zoo.recipe`),
so a different profile, seed or default is a different model.
"""

from __future__ import annotations

import dataclasses

from gancourse.checkpoints import CheckpointStore
from gancourse.data import DataBundle
from gancourse.runtime import ChapterRun
from gancourse.zoo.attacks import ADVGAN_WEIGHTS, AttackRecipes
from gancourse.zoo.classifiers import DEFENSES, ENSEMBLE_SOURCES, SUBSTITUTE_SEEDS
from gancourse.zoo.defenses import DefenseRecipes
from gancourse.zoo.gans import CYCLEGAN_BATCH, SNAPSHOT_SAMPLES, STYLEGAN_BATCH, snapshot_steps
from gancourse.zoo.recipe import Call, RecipeContext, model_key, origin, training_seconds, training_steps

__all__ = ["ADVGAN_WEIGHTS", "CYCLEGAN_BATCH", "DEFENSES", "ENSEMBLE_SOURCES", "SNAPSHOT_SAMPLES", "STYLEGAN_BATCH",
           "SUBSTITUTE_SEEDS", "Call", "RecipeContext", "Zoo", "model_key", "origin", "snapshot_steps",
           "training_seconds", "training_steps"]


@dataclasses.dataclass(frozen=True)
class Zoo(AttackRecipes, DefenseRecipes):
    """Every recipe of the book (classifiers, GANs, attacks, defenses) for one run: profile, data, seed,
    device, checkpoint store and weight source (:class:`gancourse.zoo.recipe.RecipeContext`)."""

    @classmethod
    def for_chapter(cls, run: ChapterRun, bundle: DataBundle, store: CheckpointStore | None = None) -> Zoo:
        """The zoo of a chapter's run (:func:`gancourse.runtime.start_chapter`) on ``bundle``, with the run's
        ``weights``: ``"published"`` (the book's published weights where the store lacks a model) or ``"train"``
        (train every model the store lacks with the profile's budget). It records every model it gives for
        the page's header."""
        return cls(run.profile, bundle, run.seed, run.device, store or CheckpointStore(), run.weights, announce=True)
