"""The checkpoint store: trained models keyed by name + a hash of their configuration.

``store.load_or_train(name, config, build, train)`` is the one call a chapter makes: it loads the model
stored under ``name`` and ``config_hash(config)`` if a sound file is there, and otherwise builds it,
trains it, and stores it. Guarantees:

* **atomic writes**: a file is written next to its target and renamed over it (``os.replace``), so an
  interrupted save never leaves a half-written checkpoint under a real name;
* **safe loading**: ``torch.load(..., weights_only=True)``, so a checkpoint cannot run code;
* **integrity**: each file carries a SHA-256 digest of its tensors and the configuration it was trained
  with; a corrupted file, a digest mismatch, a configuration mismatch or weights that do not fit the
  model are reported (a :class:`CheckpointWarning`) and the model is fetched or retrained and stored again;
* **resumable training**: :meth:`CheckpointStore.progress` gives a training loop a file for its
  mid-training state (model, optimiser, step), written atomically, so a rerun resumes;
* **weights from elsewhere**: ``load_or_train(..., fetch=...)`` tries ``fetch(model)`` (the book's published
  weights, :mod:`gancourse.weights`) after the store and before training, and stores what it fetched.

The folder is :func:`gancourse.paths.checkpoint_dir` unless given (e.g. a Google Drive folder on Colab).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.files import atomic_write
from gancourse.paths import checkpoint_dir

FORMAT_VERSION = 1
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CheckpointWarning(UserWarning):
    """A stored checkpoint could not be used (corrupted or mismatching) and is being replaced."""


class CheckpointError(RuntimeError):
    """A checkpoint file is unreadable, corrupted, or does not match what was asked for."""


def config_hash(config: Mapping[str, Any]) -> str:
    """The first 16 hex digits of SHA-256 over the canonical JSON of ``config`` (sorted keys)."""
    return hashlib.sha256(_canonical_json(config).encode()).hexdigest()[:16]


def _canonical_json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"checkpoint configs and metadata must be JSON values (str, int, float, bool, None, lists, dicts "
            f"with str keys; no NaN): {error}"
        ) from error


def tensors_digest(tensors: Mapping[str, Any]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of every tensor in a (nested) state dict."""
    digest = hashlib.sha256()
    _update_digest(digest, "", tensors)
    return digest.hexdigest()


def _update_digest(digest: Any, prefix: str, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{prefix}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, Mapping):
        for key in sorted(value, key=str):
            _update_digest(digest, f"{prefix}/{key}", value[key])
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _update_digest(digest, f"{prefix}[{index}]", item)
    else:
        digest.update(f"{prefix}={value!r}".encode())


def atomic_torch_save(payload: Any, path: Path) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically (see :func:`gancourse.files.atomic_write`)."""
    with atomic_write(path) as file:
        torch.save(payload, file)


def _cpu_copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, Mapping):
        return {key: _cpu_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(item) for item in value)
    return value


@dataclass(frozen=True)
class CheckpointRecord:
    """What :meth:`CheckpointStore.load_or_train` did: ``source`` is ``"loaded"`` (from the store),
    ``"published"`` (fetched, e.g. the book's published weights, then stored) or ``"trained"``; ``config`` is
    the configuration the model is keyed by."""

    name: str
    config_hash: str
    path: Path
    source: str
    seconds: float
    metadata: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict, repr=False)


class CheckpointStore:
    """Trained models on disk, keyed by ``name`` and the hash of their configuration.

    Args:
        root: the folder (default :func:`gancourse.paths.checkpoint_dir`); created when first written.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else checkpoint_dir()

    def path(self, name: str, config: Mapping[str, Any]) -> Path:
        """The file of ``name`` trained with ``config``: ``<root>/<name>-<config_hash>.pt``."""
        check_name(name)
        return self.root / f"{name}-{config_hash(config)}.pt"

    def save(self, name: str, config: Mapping[str, Any], model: nn.Module, metadata: Mapping[str, Any] | None = None) -> Path:
        """Store ``model``'s weights with its config and JSON ``metadata``, atomically; returns the path."""
        return self._write(name, config, model.state_dict(), metadata or {})

    def replace_stored(self, name: str, config: Mapping[str, Any], state: Mapping[str, torch.Tensor],
                       metadata: Mapping[str, Any]) -> Path:
        """Overwrite the model stored for (``name``, ``config``) with ``state`` and ``metadata``, atomically
        (e.g. with the weights as published, so that this store gives what a reader's would)."""
        self.stored(name, config)  # it must exist and be sound: this replaces a model, it never adds one
        return self._write(name, config, state, metadata)

    def _write(self, name: str, config: Mapping[str, Any], state: Mapping[str, torch.Tensor],
               metadata: Mapping[str, Any]) -> Path:
        state = _cpu_copy(state)
        payload = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "config_json": _canonical_json(config),
            "state_dict": state,
            "state_digest": tensors_digest(state),
            "metadata_json": _canonical_json(dict(metadata)),
            "torch_version": str(torch.__version__),
        }
        path = self.path(name, config)
        atomic_torch_save(payload, path)
        return path

    def load(self, name: str, config: Mapping[str, Any], model: nn.Module) -> dict[str, Any]:
        """Load the weights stored for (``name``, ``config``) into ``model``; returns the stored metadata.

        Raises:
            FileNotFoundError: nothing is stored under that key.
            CheckpointError: the file is unreadable or corrupted, or was stored for another name or config,
                or its weights do not fit ``model``.
        """
        state, metadata = self.stored(name, config)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise CheckpointError(f"{self.path(name, config)} does not fit the model built for {name!r}: "
                                  f"{error}") from error
        return metadata

    def stored(self, name: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The state dict (on the CPU) and the metadata stored for (``name``, ``config``), checked as in
        :meth:`load` but not loaded into a model.

        Raises:
            FileNotFoundError: nothing is stored under that key.
            CheckpointError: the file is unreadable or corrupted, or was stored for another name or config.
        """
        path = self.path(name, config)
        payload = _read_payload(path)
        if payload["name"] != name or payload["config_json"] != _canonical_json(config):
            raise CheckpointError(f"{path} was stored for {payload['name']!r} with config {payload['config_json']}, "
                                  f"not for {name!r} with config {_canonical_json(config)}")
        return payload["state_dict"], json.loads(payload["metadata_json"])

    def load_or_train(
        self,
        name: str,
        config: Mapping[str, Any],
        build: Callable[[], nn.Module],
        train: Callable[[nn.Module, ProgressFile], Mapping[str, Any] | None],
        fetch: Callable[[nn.Module], Mapping[str, Any] | None] | None = None,
    ) -> tuple[nn.Module, CheckpointRecord]:
        """Load the model stored for (``name``, ``config``) if sound; otherwise fetch it (if ``fetch`` is given)
        or build and train it; store what was fetched or trained.

        Args:
            name: a short identifier, e.g. ``"classifier-A-fashion-mnist"``.
            config: everything that changes the trained weights (architecture, data, budget, seed); any
                change gives a new key, so a stale model is never loaded.
            build: returns a freshly initialised model.
            train: ``train(model, progress)`` trains the model in place, may save its mid-training state to
                ``progress`` (a :class:`ProgressFile` for this name and config) to resume after an
                interruption, and may return JSON metadata (accuracy, time, ...) to store with the weights.
            fetch: ``fetch(model)`` loads weights for this name and config from elsewhere into the freshly built
                model and returns their JSON metadata, or returns None (leaving the model untouched) when it has
                none; tried when the store has no sound file, before training.

        Returns:
            The model (in eval mode) and a :class:`CheckpointRecord`. A file that exists but cannot be used
            is reported with a :class:`CheckpointWarning` and replaced by a fetched or freshly trained model.
        """
        path = self.path(name, config)
        _remove_leftover_temporaries(path, self.progress(name, config).path)
        model = build()
        started = time.perf_counter()
        if path.exists():
            try:
                metadata = self.load(name, config, model)
                model.eval()
                return model, CheckpointRecord(name, config_hash(config), path, "loaded",
                                               time.perf_counter() - started, metadata, dict(config))
            except CheckpointError as error:
                warnings.warn(f"replacing {name!r}: {error}", CheckpointWarning, stacklevel=2)
                model = build()
        fetched = fetch(model) if fetch is not None else None
        if fetched is not None:
            model.eval()
            metadata = dict(fetched)
            self.save(name, config, model, metadata)
            self.progress(name, config).clear()
            return model, CheckpointRecord(name, config_hash(config), path, "published",
                                           time.perf_counter() - started, metadata, dict(config))
        progress = self.progress(name, config)
        metadata = dict(train(model, progress) or {})
        model.eval()
        self.save(name, config, model, metadata)
        progress.clear()
        return model, CheckpointRecord(name, config_hash(config), path, "trained",
                                       time.perf_counter() - started, metadata, dict(config))

    def progress(self, name: str, config: Mapping[str, Any]) -> ProgressFile:
        """The mid-training state file of (``name``, ``config``), for loops that resume after an interruption."""
        final = self.path(name, config)
        return ProgressFile(final.with_name(final.stem + ".progress.pt"), name)

    def entries(self) -> list[Path]:
        """The stored checkpoint files (not progress files), sorted by name."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*.pt") if not p.name.endswith(".progress.pt"))


def _remove_leftover_temporaries(*targets: Path) -> None:
    """Delete the hidden ``.<name>.*.tmp`` files a hard kill during an atomic save leaves next to ``targets``
    (never read by anything: the real files are only ever replaced by a finished temporary)."""
    for target in targets:
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            leftover.unlink(missing_ok=True)


class ProgressFile:
    """A training loop's resumable state (tensors, numbers, nested dicts), saved atomically.

    Typical use inside a loop::

        state = progress.load()            # None on a fresh start
        if state is not None:
            model.load_state_dict(state["model"]); optimizer.load_state_dict(state["optimizer"])
        ...
        progress.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch})
        ...
        progress.clear()                   # once the final checkpoint is stored
    """

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name

    def save(self, state: Mapping[str, Any]) -> None:
        """Store ``state`` (with a digest of its tensors) atomically, replacing the previous one."""
        state = _cpu_copy(dict(state))
        atomic_torch_save({"format_version": FORMAT_VERSION, "name": self.name, "state": state,
                           "state_digest": tensors_digest(state)}, self.path)

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or None if there is none; an unusable file is reported and discarded."""
        if not self.path.exists():
            return None
        try:
            payload = _read_payload(self.path, state_key="state")
        except CheckpointError as error:
            warnings.warn(f"starting {self.name!r} afresh: {error}", CheckpointWarning, stacklevel=2)
            self.clear()
            return None
        return payload["state"]

    def clear(self) -> None:
        """Delete the progress file (after the finished model is stored)."""
        self.path.unlink(missing_ok=True)


def _read_payload(path: Path, state_key: str = "state_dict") -> dict[str, Any]:
    """Read a file written by this module with ``weights_only=True`` and verify its tensors' digest."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # truncated zip, garbage bytes, pickled code refused by weights_only
        raise CheckpointError(f"{path} is corrupted or not a gancourse checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION or state_key not in payload:
        raise CheckpointError(f"{path} is not a gancourse checkpoint of format {FORMAT_VERSION}")
    if tensors_digest(payload[state_key]) != payload.get("state_digest"):
        raise CheckpointError(f"{path} is corrupted: its tensors do not match the digest stored with them")
    return payload


def check_name(name: str) -> None:
    """Refuse a model name that cannot be part of a file name (letters, digits, '.', '_', '-')."""
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            f"checkpoint name {name!r} is not valid: use letters, digits, '.', '_' and '-', starting with a "
            "letter or digit (it becomes part of a file name)"
        )
