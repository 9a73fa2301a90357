"""A resumable robustness matrix: each (attack, defense) cell's adversarial images and per-image results,
saved atomically as it is computed, so that an interrupted :func:`gancourse.matrix.run_matrix` resumes at the
first cell it had not finished.

A cell's file is keyed by what determines it: the attack's and the defense's names, the images and labels it
scores, the parameters of the networks the defense exposes to an attacker (so retrained models are never
read from an old file), and the settings the attack's row names (:attr:`gancourse.matrix.AttackSpec.settings`).
What the key cannot see — settings a row does not name, a generator inside a black-box attack, the code — is
the caller's to put into the folder's name (e.g. a hash of the profile and the seed).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.checkpoints import CheckpointError, CheckpointWarning, atomic_torch_save, tensors_digest
from gancourse.results import slug

FORMAT = "gancourse-matrix-cell-1"


class CellCache:
    """The finished cells of one matrix, one file per cell in ``folder`` (created when first written).

    An entry holds ``adversarial`` (the crafted images, None for the clean row), ``seconds`` (crafting time per
    image), ``correct`` and ``rejected`` (per image) and ``defense_ms``. ``read`` and ``written`` count the cells
    this object has read from and saved to the folder (a resumed run reports what it reused)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        self.read = 0
        self.written = 0

    def key(self, attack: str, defense: str, targets: list[nn.Module], images: torch.Tensor,
            labels: torch.Tensor, settings: Mapping[str, Any] | None = None) -> str:
        """SHA-256 over the names, the attack's ``settings`` (JSON values; none named: the key of a row without
        settings), the images and labels, and the parameters and buffers of ``targets``."""
        digest = hashlib.sha256(f"{attack}\x00{defense}\x00".encode())
        if settings:
            try:
                digest.update(json.dumps(dict(settings), sort_keys=True).encode())
            except TypeError as error:
                raise ValueError(f"the settings of attack {attack!r} must be JSON values (numbers, strings, "
                                 f"lists), got {dict(settings)!r}: {error}") from None
        state = {"images": images, "labels": labels}
        state.update({f"target{index}": target.state_dict() for index, target in enumerate(targets)})
        digest.update(tensors_digest(state).encode())
        return digest.hexdigest()

    def path(self, attack: str, defense: str, key: str) -> Path:
        """``<folder>/<attack>__<defense>__<key prefix>.pt`` (names as :func:`gancourse.results.slug` writes
        them): the same names on other images — an ε sweep's clean row on a prefix — get files of their own."""
        return self.folder / f"{slug(attack)}__{slug(defense)}__{key[:16]}.pt"

    def load(self, attack: str, defense: str, key: str) -> dict[str, Any] | None:
        """The stored entry of the cell if its key matches ``key``; None if there is none or it is stale. An
        unreadable file is reported (:class:`~gancourse.checkpoints.CheckpointWarning`) and ignored."""
        path = self.path(attack, defense, key)
        if not path.exists():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(payload, dict) or payload.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not a matrix cell of format {FORMAT}")
        except Exception as error:  # truncated file, garbage bytes, another format
            warnings.warn(f"recomputing {attack} vs {defense}: {error}", CheckpointWarning, stacklevel=2)
            return None
        if payload.get("key") != key:
            return None
        self.read += 1
        return payload["entry"]

    def save(self, attack: str, defense: str, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` for the cell under ``key``, atomically (tensors moved to the CPU)."""
        entry = {name: value.detach().cpu() if isinstance(value, torch.Tensor) else value
                 for name, value in entry.items()}
        atomic_torch_save({"format": FORMAT, "key": key, "entry": entry}, self.path(attack, defense, key))
        self.written += 1
