"""The one recipe helper every model of the zoo is made with, and the context a chapter's models share.

A recipe names its model once and states what it is made of: the networks (constructor calls, or trained
models to start from), the trainer call, the models it depends on, and any setting that enters only through
the data (an attack's ε, a loader's batch). :meth:`RecipeContext.make` turns that into a checkpoint config
and asks the store to load the model or train it.

**Configs come from the values used.** A :class:`Call` holds a function (or class) and the arguments it
will be called with; its :attr:`Call.settings` are every argument the function receives, *its defaults
included* for the package's own functions. The network is built and the trainer is run through the very
same :class:`Call`, so no setting can change without changing the checkpoint key: change a default of
``StyleGenerator`` or ``train_stylegan`` and the old checkpoint is no longer the one asked for.

**Published weights come first.** The recipes marked :func:`reference_first` have reference models: trained
once with the reference budget (:data:`gancourse.profiles.REFERENCE`, all of the dataset's training images)
and published with the book (:mod:`gancourse.weights`). With ``weights="published"`` such a recipe is first
run in the *reference context* (that budget and data, the same seed), which only looks the model up: in the
store, then among the published weights. Only when neither has it does the recipe run with the chapter's
profile, training what the store lacks. ``weights="train"`` skips the lookup.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from gancourse.checkpoints import CheckpointRecord, CheckpointStore, ProgressFile
from gancourse.data import DataBundle, make_loaders
from gancourse.profiles import REFERENCE, Profile
from gancourse.results import record, slug
from gancourse.runtime import check_weights
from gancourse.train.loop import History
from gancourse.validation import check_seed
from gancourse.weights import PublishedWeights

REFERENCE_MODES = ("reference", "lookup")  # the reference context: train what is missing / only look up
RUNTIME_ARGUMENTS = frozenset({"device", "progress", "save_every", "progress_bar"})  # never change the weights
OWN_PACKAGE = "gancourse."


def json_setting(name: str, value: Any) -> Any:
    """``value`` as a JSON value for a checkpoint config: tuples become lists, dataclasses dicts, devices and
    dtypes strings. Anything else (a tensor, a network, a function) is refused: describe it in the recipe."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [json_setting(name, item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): json_setting(f"{name}.{key}", item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_setting(name, dataclasses.asdict(value))
    raise TypeError(f"setting {name!r} is a {type(value).__name__}, which a checkpoint config cannot record; "
                    "pass it at call time and describe it in the recipe's settings")


class Call:
    """``function(*args, **kwargs)`` held until it is called, with :attr:`settings` describing it.

    Called with more arguments (``call(model, loader, device=...)``), those come first / are added: the
    run-time inputs (networks, data, device, progress) that a config does not record. A keyword argument
    given only at call time must be named in ``run_time`` (its default would otherwise be recorded as the
    value used), unless it is one of :data:`RUNTIME_ARGUMENTS`.
    """

    def __init__(self, function: Callable[..., Any], /, *args: Any, run_time: tuple[str, ...] = (),
                 **kwargs: Any) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.run_time = frozenset(run_time) | RUNTIME_ARGUMENTS
        bound = inspect.signature(function).bind_partial(*args, **kwargs)
        if getattr(function, "__module__", "").startswith(OWN_PACKAGE):
            bound.apply_defaults()  # our own defaults are part of the recipe; torch's are not ours to key on
        self.settings: dict[str, Any] = {
            "function": f"{function.__module__}.{function.__qualname__}",
            **{name: json_setting(name, value) for name, value in bound.arguments.items()
               if name not in self.run_time}}

    def __call__(self, *more_args: Any, **more_kwargs: Any) -> Any:
        undeclared = set(more_kwargs) - self.run_time
        if undeclared:
            raise TypeError(f"{self.settings['function']}: {sorted(undeclared)} given at call time but not declared "
                            "in run_time (the config would record another value than the one used)")
        return self.function(*self.args, *more_args, **self.kwargs, **more_kwargs)


Network = Call | nn.Module  # a constructor call, or a trained model to start from (deep-copied)


class NotPublished(LookupError):
    """A reference model the lookup found neither in the checkpoint store nor among the published weights."""


def reference_first(recipe: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a recipe whose model has reference weights: with ``weights="published"`` it is first looked up in
    the reference context (:meth:`RecipeContext.reference_context`: store, then published weights) and run
    with the chapter's profile only when the lookup finds nothing (:class:`NotPublished`)."""

    @functools.wraps(recipe)
    def looked_up_first(self: RecipeContext, *args: Any, **kwargs: Any) -> Any:
        if self.weights == "published" and recipe.__name__ not in self.at_profile:
            try:
                return recipe(self.reference_context(), *args, **kwargs)
            except NotPublished:
                pass  # nothing published for it (or for a model it needs): the chapter's budget trains it
        return recipe(self, *args, **kwargs)

    looked_up_first.reference_first = True  # type: ignore[attr-defined]
    return looked_up_first


@dataclasses.dataclass(frozen=True)
class RecipeContext:
    """The chapter's run, as the recipes need it: the profile's budgets, the data, the seed, the device, the
    checkpoint store, and where models the store lacks come from: ``weights="published"`` (the book's
    published weights, :mod:`gancourse.weights`, else training with the profile's budget) or ``"train"``
    (always train); ``"reference"`` and ``"lookup"`` are the reference context's own modes (train what is
    missing with the reference budget, as ``gancourse train-reference`` does; only look up). With
    ``announce`` (a chapter's zoo), every model is recorded for the page's header (:func:`model_summary`).
    Every recipe is a method of :class:`gancourse.zoo.Zoo`, which is this context."""

    profile: Profile
    bundle: DataBundle
    seed: int
    device: torch.device | str = "cpu"
    store: CheckpointStore = dataclasses.field(default_factory=CheckpointStore)
    weights: str = "published"
    published: PublishedWeights = dataclasses.field(default_factory=PublishedWeights, repr=False, compare=False)
    shared: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    """Results several recipes use, computed once per context (e.g. the Rec classifiers' projections)."""
    announce: bool = False
    models_given: set[str] = dataclasses.field(default_factory=set, repr=False, compare=False)
    """The checkpoints (``model_<name>-<config hash>``) of the models given so far, each recorded once for the
    page's header if ``announce``; shared with the reference context (a model a chapter asks for twice, e.g. as
    another recipe's input, is announced once)."""
    reference: Profile = REFERENCE
    """The reference budget the published weights were trained with (tests use a tiny one)."""
    at_profile: frozenset[str] = frozenset()
    """Recipes run with the chapter's profile although they have reference weights (:meth:`profile_budget`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.bundle, DataBundle):
            raise TypeError(f"bundle must be the DataBundle of gancourse.data.make_loaders, got "
                            f"{type(self.bundle).__name__}")
        if not isinstance(self.profile, Profile):
            raise TypeError(f"profile must be a gancourse.profiles.Profile (e.g. run.profile), got "
                            f"{type(self.profile).__name__}")
        check_seed(self.seed)
        if self.weights not in REFERENCE_MODES:
            check_weights(self.weights)
        elif self.profile != self.reference:
            raise ValueError(f"weights={self.weights!r} is the reference context's mode; its profile must be the "
                             f"reference budget (gancourse.profiles.REFERENCE), not {self.profile.name!r}")

    def reference_context(self) -> RecipeContext:
        """This context at the reference budget, for looking models up (``weights="lookup"``): profile
        :attr:`reference` (:data:`gancourse.profiles.REFERENCE`: all of the dataset's images), the same seed,
        device, store and published weights; made once."""
        if "reference_context" not in self.shared:
            bundle = make_loaders(self.bundle.info.name, self.reference, self.seed)
            self.shared["reference_context"] = dataclasses.replace(self, profile=self.reference, bundle=bundle,
                                                                   weights="lookup", shared={})
        return self.shared["reference_context"]

    def trained_at_profile(self) -> RecipeContext:
        """This context with ``weights="train"``: a model the store lacks is trained with the chapter's profile even
        where published weights exist. For comparing two models trained alike (chapter 03 sets its conditional GAN
        beside a DCGAN of the same budget); the page's header still lists every model given."""
        return dataclasses.replace(self, weights="train")

    def profile_budget(self, *recipes: str) -> RecipeContext:
        """This context with the named :func:`reference_first` recipes (e.g. ``"advgan"``) trained with the
        chapter's profile even where reference weights exist, while the models they depend on are still looked
        up as usual, published weights first. For setting a published model beside one of the chapter's budget
        trained against the same inputs (chapter 07: the published AdvGAN and a 200-step one, both against the
        published classifier A)."""
        for name in recipes:
            if not getattr(getattr(type(self), name, None), "reference_first", False):
                raise ValueError(f"{name!r} is not a recipe with reference weights; give the name of one marked "
                                 "@reference_first (e.g. 'advgan', 'aigan', 'classifier')")
        return dataclasses.replace(self, at_profile=self.at_profile | frozenset(recipes))

    def data_config(self) -> dict[str, Any]:
        """The part of every config that names the data and the seed."""
        return {"dataset": self.bundle.info.name, "train_size": len(self.bundle.train_images), "seed": self.seed}

    def make(self, name: str, networks: Network | Mapping[str, Network], trainer: Call,
             train: Callable[[Any, ProgressFile], History], *, inputs: Mapping[str, CheckpointRecord] | None = None,
             settings: Mapping[str, Any] | None = None,
             evaluate: Callable[[Any], Mapping[str, Any]] | None = None,
             replicate: int | None = None) -> tuple[Any, CheckpointRecord]:
        """Load model ``name`` from the store; else, unless ``weights="train"``, load its published weights;
        else (never with ``weights="lookup"``, which raises :class:`NotPublished`) build and train it
        (``train(model, progress)``, which must run ``trainer``). What was loaded from the published weights or
        trained is stored. Returns the model (one network, or a ModuleDict of them)
        on the context's device, in eval mode, and the :class:`CheckpointRecord` whose metadata holds
        ``history``, ``train_seconds`` and what ``evaluate(model)`` returned when it was trained (and, for
        published weights, ``published``: their file and provenance).

        The config holds the data, the seed, every network's :attr:`Call.settings` (or, for a model to start
        from, the record in ``inputs`` under the same name), the trainer's settings, the files of the
        ``inputs`` and the extra ``settings``. ``replicate`` seeds the networks' initialisation instead of the
        run's seed (and is recorded): independent repeats of one training on the same data and inputs.
        """
        inputs, settings = dict(inputs or {}), dict(settings or {})
        single = not isinstance(networks, Mapping)
        parts = {"model": networks} if single else dict(networks)
        starts = [key for key, part in parts.items() if isinstance(part, nn.Module)]
        if set(starts) - set(inputs):
            raise ValueError(f"recipe {name!r}: the models to start from {sorted(set(starts) - set(inputs))} need "
                             "their checkpoint records in inputs")
        config = {"model": name, **self.data_config(),
                  "networks": {key: part.settings if isinstance(part, Call) else {"start": inputs[key].path.name}
                               for key, part in parts.items()},
                  "training": trainer.settings,
                  "inputs": {key: record.path.name for key, record in sorted(inputs.items())},
                  **{key: json_setting(key, value) for key, value in settings.items()},
                  **({"replicate": replicate} if replicate is not None else {})}

        def build() -> nn.Module:
            torch.manual_seed(self.seed if replicate is None else replicate)
            built = {key: copy.deepcopy(part) if isinstance(part, nn.Module) else part() for key, part in parts.items()}
            module = built["model"] if single else nn.ModuleDict(built)
            return module.to(self.device)

        def timed_train(model: nn.Module, progress: ProgressFile) -> dict[str, Any]:
            started = time.perf_counter()
            history = train(model, progress)
            metadata = {"history": history, "train_seconds": time.perf_counter() - started}
            return {**metadata, **(evaluate(model) if evaluate is not None else {})}

        def fetch(model: nn.Module) -> dict[str, Any] | None:
            return self.published.load_into(name, config, model)

        def not_published(model: nn.Module, progress: ProgressFile) -> dict[str, Any]:
            raise NotPublished(f"{name} ({self.bundle.info.name}, seed {self.seed}) has no reference weights")

        model, checkpoint = self.store.load_or_train(
            name, config, build, not_published if self.weights == "lookup" else timed_train,
            fetch=fetch if self.weights != "train" else None)
        key = model_key(checkpoint)
        if key not in self.models_given:
            self.models_given.add(key)
            if self.announce:
                record(key, model_summary(checkpoint))
        return model.to(self.device), checkpoint


def model_key(checkpoint: CheckpointRecord) -> str:
    """The name a model goes by in :attr:`RecipeContext.models_given` and in a page's record of its models."""
    return f"model_{slug(checkpoint.path.stem)}"


def training_steps(checkpoint: CheckpointRecord) -> int:
    """The budget the model was trained with, from its config: the trainer's ``iterations`` (GANs, attack
    GANs: generator steps) or ``epochs`` (classifiers) — the reference budget for published weights, the
    profile's otherwise."""
    training = checkpoint.config.get("training", {})
    for key in ("iterations", "epochs"):
        if isinstance(training.get(key), int):
            return training[key]
    raise KeyError(f"{checkpoint.name}: its trainer {training.get('function')!r} records neither iterations nor epochs")


def training_seconds(checkpoint: CheckpointRecord) -> float:
    """How long the model trained: the published weights' wall time (every sitting), else the run's plus, for a
    training that continued an earlier model, that model's."""
    published = checkpoint.metadata.get("published")
    if published:
        return float(published["wall_seconds"])
    return float(checkpoint.metadata["train_seconds"]) + continued_seconds(checkpoint)


def continued_seconds(checkpoint: CheckpointRecord) -> float:
    """The training seconds of the earlier model this one's training continued (0 when it started afresh)."""
    return float(checkpoint.metadata.get("continued_from", {}).get("train_seconds", 0.0))


def origin(checkpoint: CheckpointRecord) -> str:
    """Where the model came from, in words: ``"published weights"``, ``"trained in this run"`` or ``"loaded
    from the store"`` (an earlier run trained it)."""
    if "published" in checkpoint.metadata:
        return "published weights"
    return "trained in this run" if checkpoint.source == "trained" else "loaded from the store"


def model_summary(checkpoint: CheckpointRecord) -> dict[str, Any]:
    """What a page's header says about one model: its name, where it came from (``published`` weights, with
    their provenance; ``trained`` in this run; ``loaded`` from the store, where an earlier run trained it)
    and its training steps and seconds."""
    published = checkpoint.metadata.get("published")
    return {"name": checkpoint.name, "file": checkpoint.path.name,
            "source": "published" if published else checkpoint.source,
            "train_seconds": checkpoint.metadata.get("train_seconds"),
            "published": {key: published[key] for key in ("steps", "wall_seconds", "device", "date", "quality")}
            if published else None}
