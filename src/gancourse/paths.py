"""Where the package keeps datasets and checkpoints.

Resolution order, for both folders:

1. a folder set with :func:`configure` (e.g. a Google Drive folder on Colab);
2. the environment variables ``GANCOURSE_DATA_DIR`` / ``GANCOURSE_CHECKPOINT_DIR``;
3. inside a checkout of the book's repository, its ``data/`` folder (``data/checkpoints`` for checkpoints);
4. otherwise ``~/.cache/gancourse/data`` (``.../checkpoints``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "GANCOURSE_DATA_DIR"
CHECKPOINT_DIR_ENV = "GANCOURSE_CHECKPOINT_DIR"

_configured: dict[str, Path] = {}


def repository_root() -> Path | None:
    """The root of the book's repository when the package runs from a checkout (src layout), else None."""
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / "pyproject.toml").is_file() and (candidate / "src" / "gancourse").is_dir():
        return candidate
    return None


def configure(data_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None) -> None:
    """Point the package at other folders, e.g. ``configure(checkpoint_dir="/content/drive/MyDrive/gancourse")``.

    Folders are created on first use. Passing None leaves that folder's setting as it is.
    """
    for key, folder in (("data", data_dir), ("checkpoints", checkpoint_dir)):
        if folder is None:
            continue
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError(f"{key} folder {path} is a file; pass a folder (it is created if missing)")
        _configured[key] = path


def use_google_drive(folder: str = "gancourse", mount_point: str = "/content/drive") -> Path:
    """On Colab: mount Google Drive and keep the checkpoint store in ``MyDrive/<folder>/checkpoints``, so
    that trained models survive the end of a Colab session. Returns the checkpoint folder."""
    try:
        from google.colab import drive  # type: ignore[import-not-found]
    except ImportError as error:
        raise RuntimeError("use_google_drive() works on Google Colab only; elsewhere point the store at any "
                           "folder with gancourse.paths.configure(checkpoint_dir=...) or the environment "
                           f"variable {CHECKPOINT_DIR_ENV}") from error
    drive.mount(mount_point)
    target = Path(mount_point) / "MyDrive" / folder / "checkpoints"
    target.mkdir(parents=True, exist_ok=True)
    configure(checkpoint_dir=target)
    print(f"checkpoints are stored on Google Drive: {target}")
    return target


def data_dir() -> Path:
    """The folder that caches datasets (torchvision's layout: ``<data_dir>/FashionMNIST/raw/...``)."""
    if "data" in _configured:
        return _configured["data"]
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    root = repository_root()
    if root is not None:
        return root / "data"
    return Path.home() / ".cache" / "gancourse" / "data"


def checkpoint_dir() -> Path:
    """The folder of the checkpoint store."""
    if "checkpoints" in _configured:
        return _configured["checkpoints"]
    if os.environ.get(CHECKPOINT_DIR_ENV):
        return Path(os.environ[CHECKPOINT_DIR_ENV]).expanduser()
    return data_dir() / "checkpoints"
