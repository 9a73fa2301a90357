"""What an executed copy is made of: its source's cells (plus a run-info cell under the title and, while
papermill runs, an injected-parameters cell) and a digest of the source's code that ties it to its source."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import nbformat

from gancourse.files import atomic_write

RUN_INFO_TAG = "run-info"


def source_cells(notebook: Any) -> list[Any]:
    """The cells that come from the source: not the run-info cell, not papermill's injected parameters."""
    return [cell for cell in notebook["cells"]
            if not {RUN_INFO_TAG, "injected-parameters"} & set(cell.get("metadata", {}).get("tags", []))]


def code_digest(notebook: Any) -> str:
    """SHA-256 of the code cells' sources, in order (what decides whether outputs are still valid)."""
    digest = hashlib.sha256()
    for cell in source_cells(notebook):
        if cell["cell_type"] == "code":
            digest.update(cell["source"].encode() + b"\0")
    return digest.hexdigest()


def write_notebook_atomically(notebook: Any, target: Path) -> None:
    """Write ``notebook`` to ``target`` so that a reader never sees a half-written file."""
    with atomic_write(target, "w") as file:
        nbformat.write(notebook, file)
