"""The book's published weights: models trained once with a reference budget, kept in the repository's
``weights/`` folder, and loaded instead of being trained with the profile's budget.

A recipe finds a model in this order (:meth:`gancourse.zoo.recipe.RecipeContext.make`): the local checkpoint
store, then these published weights, then training. ``weights/manifest.json`` lists every file: the model's
name, the hash and the config it was trained with, the file's SHA-256 and size in bytes, the dtype its
tensors are stored in (float16 where the chapters' printed numbers do not change, float32 where they do),
and its :class:`Provenance` (reference budget, steps, wall time, device, package commit, date, quality).

Where the folder or one of its files is missing (a pip install, Colab), the manifest and the files are
downloaded from the repository named in ``_config.yml`` (:func:`raw_weights_url`) into a cache folder. A
file is checked against the manifest's SHA-256 *before* it is read, and read with
``torch.load(..., weights_only=True)``. A failed download or a wrong checksum is a
:class:`PublishedWeightsWarning` naming the file, and the model is trained instead: never a silent
substitution.

Publishing (:func:`publish`) is a deliberate act: it copies a model from the checkpoint store into the folder
and its entry into the manifest, within :data:`FOLDER_BUDGET_BYTES` for the whole folder.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib.metadata
import io
import json
import math
import os
import re
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.checkpoints import CheckpointStore, check_name, config_hash
from gancourse.files import atomic_write
from gancourse.paths import data_dir, repository_root

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
FILE_FORMAT = 1
FOLDER_BUDGET_BYTES = 60_000_000  # the whole weights/ folder: the one exception to "no binaries in git"
WEIGHTS_URL_ENV = "GANCOURSE_WEIGHTS_URL"  # a folder URL to download published weights from, overriding the rest
WEIGHTS_DIR_ENV = "GANCOURSE_WEIGHTS_DIR"  # a local weights folder to use instead of the checkout's weights/
DTYPES = {"float16": torch.float16, "float32": torch.float32}
DOWNLOAD_TIMEOUT_S = 60
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")
_REPOSITORY_BLOCK = re.compile(r"^repository:[ \t]*\n((?:[ \t]+.*\n?)*)", re.MULTILINE)


class PublishedWeightsWarning(UserWarning):
    """Published weights could not be used (download failed, wrong checksum, unreadable): the model is trained."""


class ManifestError(ValueError):
    """``weights/manifest.json`` is malformed."""


class _Refused(Exception):
    """Why one published file cannot be used (turned into a :class:`PublishedWeightsWarning`)."""


@dataclasses.dataclass(frozen=True)
class Provenance:
    """How a published model was made.

    Attributes:
        budget: the reference budget in words, e.g. ``"20,000 generator steps, batch 64, lr 1e-4"``.
        steps: training steps (generator steps for a GAN, optimiser steps for a classifier).
        wall_seconds: wall-clock training time.
        device: what it was trained on, e.g. ``"NVIDIA H200"`` or ``"cpu (2 cores)"``.
        commit: the package's git commit it was trained with.
        date: when it was trained, ISO 8601 (``"2026-05-09"`` or with a time).
        quality: the final quality figures, name -> value (e.g. ``{"frechet_distance": 52.1}``).
    """

    budget: str
    steps: int
    wall_seconds: float
    device: str
    commit: str
    date: str
    quality: dict[str, float]

    def __post_init__(self) -> None:
        for field in ("budget", "device", "commit", "date"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field).strip():
                raise ValueError(f"provenance {field} must be a non-empty string, got {getattr(self, field)!r}")
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 0:
            raise ValueError(f"provenance steps must be an integer >= 0, got {self.steps!r}")
        if not _finite_number(self.wall_seconds) or self.wall_seconds < 0:
            raise ValueError(f"provenance wall_seconds must be a finite number >= 0, got {self.wall_seconds!r}")
        try:
            datetime.datetime.fromisoformat(self.date)
        except ValueError as error:
            raise ValueError(f"provenance date must be ISO 8601 (e.g. '2026-05-09'), got {self.date!r}") from error
        if not isinstance(self.quality, Mapping) or not all(
                isinstance(key, str) and _finite_number(value) for key, value in self.quality.items()):
            raise ValueError(f"provenance quality must map names to finite numbers, got {self.quality!r}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of the manifest: ``<name>-<config_hash>.pt``, the config it was trained with, its SHA-256 and
    size in bytes, the dtype of its floating-point tensors, and its provenance."""

    name: str
    config_hash: str
    config: dict[str, Any]
    file: str
    sha256: str
    size: int
    dtype: str
    provenance: Provenance

    def __post_init__(self) -> None:
        check_name(self.name)
        if not isinstance(self.config, dict):
            raise ValueError(f"{self.file}: config must be a JSON object, got {type(self.config).__name__}")
        if config_hash(self.config) != self.config_hash:
            raise ValueError(f"{self.file}: config_hash {self.config_hash} is not the hash of its config "
                             f"({config_hash(self.config)})")
        if self.file != f"{self.name}-{self.config_hash}.pt":
            raise ValueError(f"{self.file}: the file of {self.name!r} must be named {self.name}-{self.config_hash}.pt")
        if not isinstance(self.sha256, str) or not _SHA256.match(self.sha256):
            raise ValueError(f"{self.file}: sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size <= 0:
            raise ValueError(f"{self.file}: size must be a positive number of bytes, got {self.size!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"{self.file}: dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    @classmethod
    def from_json(cls, value: Any) -> Entry:
        """The entry a manifest's JSON object describes (every field required, no others)."""
        fields = _exact_fields(value, [field.name for field in dataclasses.fields(cls)], "an entry")
        provenance = _exact_fields(fields["provenance"], [field.name for field in dataclasses.fields(Provenance)],
                                   f"the provenance of {fields['file']!r}")
        return cls(**{**fields, "provenance": Provenance(**provenance)})

    def to_json(self) -> dict[str, Any]:
        """The manifest's JSON object for this entry."""
        return dataclasses.asdict(self)


def _exact_fields(value: Any, names: list[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    missing, unknown = sorted(set(names) - set(value)), sorted(set(value) - set(names))
    if missing or unknown:
        raise ValueError(f"{what} has missing fields {missing} and unknown fields {unknown}; its fields are {names}")
    return value


def parse_manifest(text: str, where: str) -> dict[str, Entry]:
    """The entries of a manifest's text, keyed by file name; ``where`` names it in error messages.

    Raises:
        ManifestError: not JSON, not ``{"format_version": 1, "files": [...]}``, a malformed entry, or a file
            listed twice.
    """
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format_version") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("files"), list) or set(manifest) != {"format_version", "files"}:
        raise ManifestError(f"{where} must be a JSON object "
                            f"{{\"format_version\": {MANIFEST_FORMAT}, \"files\": [...]}}")
    entries: dict[str, Entry] = {}
    for index, value in enumerate(manifest["files"]):
        try:
            entry = Entry.from_json(value)
        except (TypeError, ValueError) as error:
            raise ManifestError(f"{where}, files[{index}]: {error}") from error
        if entry.file in entries:
            raise ManifestError(f"{where} lists {entry.file} twice")
        entries[entry.file] = entry
    return entries


def read_manifest(folder: Path) -> dict[str, Entry]:
    """The entries of ``folder/manifest.json``, keyed by file name (see :func:`parse_manifest`)."""
    path = Path(folder) / MANIFEST_NAME
    return parse_manifest(path.read_text(encoding="utf-8"), str(path))


def _write_manifest(folder: Path, entries: Mapping[str, Entry]) -> None:
    manifest = {"format_version": MANIFEST_FORMAT, "files": [entries[file].to_json() for file in sorted(entries)]}
    with atomic_write(folder / MANIFEST_NAME, "w") as file:
        file.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def weights_folder() -> Path:
    """The ``weights/`` folder of the repository checkout the package runs from."""
    root = repository_root()
    if root is None:
        raise FileNotFoundError("the package does not run from a checkout of the book's repository, so there is no "
                                "weights/ folder here; pass the folder explicitly")
    return root / "weights"


def github_repository(repository_url: str) -> tuple[str, str] | None:
    """``(ORG, REPO)`` of ``https://github.com/ORG/REPO`` (with or without ``.git`` or a final ``/``), else None."""
    match = _GITHUB.match(repository_url)
    return (match[1], match[2]) if match else None


def published_names(folder: Path | None = None) -> set[str]:
    """The names of the models the manifest in ``folder`` (default: the checkout's ``weights/``) publishes."""
    return {entry.name for entry in read_manifest(folder or weights_folder()).values()}


def raw_weights_url(repository_url: str, ref: str) -> str:
    """The folder URL of ``weights/`` at branch or commit ``ref`` of a GitHub repository:
    ``https://github.com/ORG/REPO`` -> ``https://raw.githubusercontent.com/ORG/REPO/REF/weights/``."""
    match = github_repository(repository_url)
    if match is None or not re.fullmatch(r"[\w-][\w.-]*(?:/[\w-][\w.-]*)*", ref):  # a git ref: no part starts with "."
        raise ValueError(f"no raw-file URL is known for {repository_url!r} at {ref!r}: published weights are "
                         f"downloaded from a GitHub repository (https://github.com/ORG/REPO); set {WEIGHTS_URL_ENV} "
                         "to the folder URL of the weights instead")
    return f"https://raw.githubusercontent.com/{match[0]}/{match[1]}/{ref}/weights/"


def config_repository(config_text: str) -> tuple[str, str]:
    """``repository.url`` and ``repository.branch`` (default ``main``) of a ``_config.yml``'s text."""
    block = _REPOSITORY_BLOCK.search(config_text)
    values = dict(re.findall(r"^[ \t]+(url|branch):[ \t]*[\"']?([^\s\"'#]+)", block[1] if block else "", re.MULTILINE))
    if "url" not in values:
        raise ValueError("_config.yml has no 'url:' under 'repository:' (set it with `gancourse set-repository URL`)")
    return values["url"], values.get("branch", "main")


def default_weights_url() -> str | None:
    """Where published weights are downloaded from: the environment variable ``GANCOURSE_WEIGHTS_URL``; else,
    in a checkout, the repository and branch of ``_config.yml``; else, for a ``pip install git+URL``, that
    repository at the installed commit; else None."""
    if os.environ.get(WEIGHTS_URL_ENV):
        return os.environ[WEIGHTS_URL_ENV]
    root = repository_root()
    if root is not None and (root / "_config.yml").is_file():
        return raw_weights_url(*config_repository((root / "_config.yml").read_text(encoding="utf-8")))
    try:
        installed = importlib.metadata.distribution("gancourse").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    origin = json.loads(installed) if installed else {}
    vcs = origin.get("vcs_info", {})
    if vcs.get("vcs") != "git" or not vcs.get("commit_id"):
        return None
    return raw_weights_url(origin["url"], vcs["commit_id"])


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class PublishedWeights:
    """The book's published weights, from the local ``weights/`` folder or downloaded into a cache.

    Args:
        folder: the weights folder (default: the environment variable ``GANCOURSE_WEIGHTS_DIR``, else
            ``weights/`` of the checkout the package runs from); used when it holds a manifest.
        base_url: the folder URL to download the manifest and files from when the folder, or a file it lists,
            is missing (default :func:`default_weights_url`); ``file://`` URLs work too.
        cache: where downloaded files go (default ``gancourse.paths.data_dir() / "weights"``).

    Nothing is read before the first lookup; the manifest is read (or downloaded) once.
    """

    def __init__(self, folder: str | Path | None = None, base_url: str | None = None,
                 cache: str | Path | None = None) -> None:
        root = repository_root()
        if folder is None and os.environ.get(WEIGHTS_DIR_ENV):
            folder = os.environ[WEIGHTS_DIR_ENV]
        self.folder = Path(folder) if folder is not None else root / "weights" if root is not None else None
        self._base_url = base_url
        self._cache = Path(cache) if cache is not None else None
        self._entries: dict[str, Entry] | None = None

    @property
    def cache(self) -> Path:
        return self._cache if self._cache is not None else data_dir() / "weights"

    def _url(self, file: str) -> str:
        try:
            base = self._base_url if self._base_url is not None else default_weights_url()
        except ValueError as error:  # a repository without a known raw-file URL
            raise _Refused(str(error)) from error
        if base is None:
            raise _Refused(f"no download URL is known (set {WEIGHTS_URL_ENV} to the folder URL of the weights)")
        return base.rstrip("/") + "/" + file

    def entries(self) -> dict[str, Entry]:
        """The manifest's entries by file name: the local folder's, else the downloaded one (none, with a
        :class:`PublishedWeightsWarning`, when it cannot be downloaded).

        Raises:
            ManifestError: the manifest is malformed.
        """
        if self._entries is None:
            if self.folder is not None and (self.folder / MANIFEST_NAME).is_file():
                self._entries = read_manifest(self.folder)
            else:
                self._entries = self._download_manifest()
        return self._entries

    def _download_manifest(self) -> dict[str, Entry]:
        try:
            url = self._url(MANIFEST_NAME)
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                text = response.read().decode("utf-8")
        except (_Refused, OSError, ValueError) as error:
            warnings.warn(f"the manifest of the published weights could not be downloaded ({error}); every model "
                          "is trained with the profile's budget", PublishedWeightsWarning, stacklevel=3)
            return {}
        return parse_manifest(text, url)

    def find(self, name: str, config: Mapping[str, Any]) -> Entry | None:
        """The manifest's entry for ``name`` trained with ``config``, or None."""
        return self.entries().get(f"{name}-{config_hash(config)}.pt")

    def load_into(self, name: str, config: Mapping[str, Any], model: nn.Module) -> dict[str, Any] | None:
        """Load the published weights of (``name``, ``config``) into ``model``, cast to its dtypes.

        Returns:
            The metadata the model was stored with when it was trained (history, test accuracy, ...) plus
            ``"published"``: the file, its SHA-256, its dtype and its provenance; or None, with ``model``
            untouched, when nothing is published for it or the file cannot be used (a
            :class:`PublishedWeightsWarning` says why: the caller trains the model instead).
        """
        entry = self.find(name, config)
        if entry is None:
            return None
        try:
            path = self._checked_file(entry)
            try:
                payload = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as error:  # truncated zip, pickled code refused by weights_only
                raise _Refused(f"{path} cannot be read with weights_only=True ({type(error).__name__}: {error})") \
                    from error
            state, metadata = _fitted_state(payload, entry, model)
        except _Refused as refusal:
            warnings.warn(f"published weights {entry.file} not used: {refusal}. {name!r} is trained with the "
                          "profile's budget instead", PublishedWeightsWarning, stacklevel=2)
            return None
        model.load_state_dict(state)
        return {**metadata, "published": _published_metadata(entry)}

    def _checked_file(self, entry: Entry) -> Path:
        """The file of ``entry`` whose SHA-256 matches the manifest: the local folder's, else one downloaded
        into the cache (checked before it is kept)."""
        if self.folder is not None and (self.folder / entry.file).is_file():
            local = self.folder / entry.file
            actual = file_sha256(local)
            if actual != entry.sha256:
                raise _Refused(f"{local} has SHA-256 {actual}, but the manifest expects {entry.sha256}")
            return local
        cached = self.cache / entry.file
        if cached.is_file() and file_sha256(cached) == entry.sha256:
            return cached
        url = self._url(entry.file)
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, atomic_write(cached) as file:
                digest = hashlib.sha256()
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    file.write(chunk)
                if digest.hexdigest() != entry.sha256:  # raised inside atomic_write: nothing is kept
                    raise _Refused(f"the download from {url} has SHA-256 {digest.hexdigest()}, but the manifest "
                                   f"expects {entry.sha256}")
        except (OSError, ValueError) as error:
            raise _Refused(f"downloading it from {url} failed ({error})") from error
        return cached


def _fitted_state(payload: Any, entry: Entry, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The payload's state dict, checked against ``entry`` and ``model``, each floating-point tensor cast to
    the dtype of the model's own (float16 files come back as the model's float32), and its metadata."""
    if not isinstance(payload, dict) or payload.get("format_version") != FILE_FORMAT \
            or not {"name", "config_json", "dtype", "state_dict", "metadata_json"} <= set(payload) \
            or not isinstance(payload["state_dict"], dict) \
            or not all(isinstance(value, torch.Tensor) for value in payload["state_dict"].values()):
        raise _Refused(f"it is not a published-weights file of format {FILE_FORMAT}")
    try:
        config, metadata = json.loads(payload["config_json"]), json.loads(payload["metadata_json"])
    except (TypeError, ValueError) as error:
        raise _Refused(f"its config or metadata is not JSON ({error})") from error
    if payload["name"] != entry.name or config != entry.config or payload["dtype"] != entry.dtype:
        raise _Refused(f"it holds {payload['name']!r} ({payload['dtype']}) with another config than the manifest's "
                       f"{entry.name!r} ({entry.dtype})")
    own = model.state_dict()
    stored = payload["state_dict"]
    missing, unexpected = sorted(set(own) - set(stored)), sorted(set(stored) - set(own))
    wrong_shapes = sorted(key for key in set(own) & set(stored) if stored[key].shape != own[key].shape)
    if missing or unexpected or wrong_shapes:
        raise _Refused(f"it does not fit the model built for {entry.name!r} (missing {missing}, unexpected "
                       f"{unexpected}, other shapes {wrong_shapes})")
    state = {key: tensor.to(own[key].dtype) if tensor.is_floating_point() else tensor for key, tensor in stored.items()}
    return state, metadata


def _as_dtype(state: Mapping[str, Any], dtype: torch.dtype, name: str) -> dict[str, Any]:
    """``state`` with every floating-point tensor stored as ``dtype``; a value it cannot hold is an error."""
    converted = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            cast = value.to(dtype)
            if (torch.isfinite(value) & ~torch.isfinite(cast)).any():
                raise ValueError(f"{name}: tensor {key!r} has values beyond the range of {dtype} "
                                 f"(largest magnitude {value.abs().max().item():.3g}); publish it as float32")
            converted[key] = cast
        else:
            converted[key] = value
    return converted


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def _size(size: int) -> str:
    return f"{_megabytes(size)} ({size:,} bytes)"


def publish(store: CheckpointStore, name: str, config: Mapping[str, Any], dtype: str, provenance: Provenance, *,
            folder: str | Path | None = None, budget_bytes: int = FOLDER_BUDGET_BYTES) -> Entry:
    """Publish the model stored in ``store`` for (``name``, ``config``): write its state, floating-point tensors
    as ``dtype`` (``"float16"`` or ``"float32"``), with the metadata it was stored with, to
    ``<folder>/<name>-<config_hash>.pt`` (atomically) and add its entry to the manifest (replacing one for
    the same file). Returns the entry; a file already published with the same bytes keeps its entry, so that
    publishing again later does not restamp the provenance (commit, date) of an earlier training.

    Args:
        folder: the weights folder (default: ``weights/`` of the checkout, :func:`weights_folder`).
        budget_bytes: the most the whole folder may hold (default :data:`FOLDER_BUDGET_BYTES`, 60 MB).

    Raises:
        ValueError: an unknown dtype, a value float16 cannot hold, or a folder that would exceed its budget.
        FileNotFoundError, gancourse.checkpoints.CheckpointError: the store has no sound model for it.
        ManifestError: the folder's manifest is malformed.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if not isinstance(provenance, Provenance):
        raise TypeError(f"provenance must be a gancourse.weights.Provenance, got {type(provenance).__name__}")
    folder = Path(folder) if folder is not None else weights_folder()
    entries = read_manifest(folder) if (folder / MANIFEST_NAME).is_file() else {}
    state, metadata = store.stored(name, config)
    metadata = {key: value for key, value in metadata.items() if key != "published"}  # as it was trained
    file = store.path(name, config).name
    published_state = _as_dtype(state, DTYPES[dtype], name)
    buffer = io.BytesIO()
    torch.save({"format_version": FILE_FORMAT, "name": name, "config_json": json.dumps(config, sort_keys=True),
                "dtype": dtype, "state_dict": published_state, "metadata_json": json.dumps(metadata, sort_keys=True)},
               buffer)
    data = buffer.getvalue()
    if file in entries and entries[file].sha256 == hashlib.sha256(data).hexdigest():
        _store_as_published(store, name, config, state, published_state, metadata, entries[file])
        return entries[file]  # already published, byte for byte: its provenance (when and where it was trained) stands
    others = sum(path.stat().st_size for path in folder.glob("*") if path.is_file() and path.name != file) \
        if folder.is_dir() else 0
    if others + len(data) > budget_bytes:
        raise ValueError(f"publishing {file} ({_size(len(data))}) would bring {folder} to "
                         f"{_size(others + len(data))}, over its budget of {_size(budget_bytes)}: the other files "
                         f"hold {_size(others)} now. Publish it as float16, or remove a published model")
    with atomic_write(folder / file) as handle:
        handle.write(data)
    entry = Entry(name, config_hash(config), json.loads(json.dumps(config)), file, hashlib.sha256(data).hexdigest(),
                  len(data), dtype, provenance)
    _write_manifest(folder, {**entries, file: entry})
    _store_as_published(store, name, config, state, published_state, metadata, entry)
    return entry


def _store_as_published(store: CheckpointStore, name: str, config: Mapping[str, Any], state: Mapping[str, Any],
                        published_state: Mapping[str, Any], metadata: Mapping[str, Any], entry: Entry) -> None:
    """Replace the store's model with the published one, as :meth:`PublishedWeights.load_into` gives it to a
    reader (each tensor cast back to its stored dtype, the provenance under ``"published"``), so that pages
    executed on the machine that trained it print what a reader's run prints."""
    as_loaded = {key: value.to(state[key].dtype) if isinstance(value, torch.Tensor) and value.is_floating_point()
                 else value for key, value in published_state.items()}
    store.replace_stored(name, config, as_loaded, {**metadata, "published": _published_metadata(entry)})


def _published_metadata(entry: Entry) -> dict[str, Any]:
    """What a model loaded from the published weights carries under ``"published"``: the file, its SHA-256 and
    dtype, and its provenance."""
    return {"file": entry.file, "sha256": entry.sha256, "dtype": entry.dtype, **dataclasses.asdict(entry.provenance)}


def unpublish(file: str, folder: str | Path | None = None) -> Entry:
    """Remove the published ``file`` (e.g. one a later stage or a new recipe superseded) from the weights
    folder and its manifest; returns the entry it had.

    Raises:
        ValueError: ``file`` is not in the manifest (the message lists what is).
    """
    folder = Path(folder) if folder is not None else weights_folder()
    entries = read_manifest(folder)
    if file not in entries:
        raise ValueError(f"{file!r} is not published in {folder}; the manifest lists {', '.join(sorted(entries))}")
    remaining = {name: entry for name, entry in entries.items() if name != file}
    _write_manifest(folder, remaining)
    (folder / file).unlink(missing_ok=True)
    return entries[file]


def verify_folder(folder: str | Path, budget_bytes: int = FOLDER_BUDGET_BYTES) -> list[str]:
    """Every problem of a weights folder, in words (none: it is sound): a malformed manifest, a listed file
    that is missing or whose size or SHA-256 differs from the manifest's, a ``.pt`` file the manifest does
    not list, a folder over its budget."""
    folder = Path(folder)
    try:
        entries = read_manifest(folder)
    except (OSError, ManifestError) as error:
        return [str(error)]
    problems = []
    for file, entry in entries.items():
        path = folder / file
        if not path.is_file():
            problems.append(f"{file} is listed in the manifest but missing from {folder}")
        elif path.stat().st_size != entry.size:
            problems.append(f"{file} has {path.stat().st_size} bytes, but the manifest lists {entry.size}")
        elif (actual := file_sha256(path)) != entry.sha256:
            problems.append(f"{file} has SHA-256 {actual}, but the manifest expects {entry.sha256}")
    problems += [f"{path.name} is in {folder} but not in its manifest (publish it, or remove it)"
                 for path in sorted(folder.glob("*.pt")) if path.name not in entries]
    total = sum(path.stat().st_size for path in folder.glob("*") if path.is_file())
    if total > budget_bytes:
        problems.append(f"{folder} holds {_size(total)}, over its budget of {_size(budget_bytes)}")
    return problems


def manifest_table(entries: Mapping[str, Entry]) -> str:
    """The manifest as a plain-text table: one line per file with its dtype, size and provenance."""
    if not entries:
        return "no published weights"
    rows = [("file", "dtype", "size", "steps", "hours", "device", "date", "quality")]
    for file in sorted(entries):
        entry = entries[file]
        made = entry.provenance
        rows.append((file, entry.dtype, _megabytes(entry.size), str(made.steps), f"{made.wall_seconds / 3600:.2f}",
                     made.device, made.date, ", ".join(f"{key} {value:.4g}" for key, value in made.quality.items())))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
