"""Writing files safely: a file appears under its real name complete, or not at all (:func:`atomic_write`),
and a command's output folder never replaces a file (:func:`output_folder`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(target: Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``target`` for writing; on success fsync it and rename it onto ``target``.

    If the block raises (or the process dies), ``target`` keeps its old content and the temporary file is
    removed (or, after a hard kill, left as a hidden ``.<name>.*.tmp`` that no reader looks at).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'wb' or 'w', got {mode!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; these are ordinary data files
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def output_folder(path: str | Path) -> Path:
    """The folder a command writes into, created if missing; an existing file there is an error, not overwritten."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; give a folder to write into")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
