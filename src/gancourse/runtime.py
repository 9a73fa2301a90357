"""What a chapter does first: resolve its profile, seed everything, pick the device, say so."""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import torch

from gancourse.data import dataset_info
from gancourse.profiles import Profile, resolve_profile
from gancourse.results import record
from gancourse.validation import check_seed

VERSIONED_PACKAGES = ("gancourse", "torch", "torchvision", "numpy", "matplotlib")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (CPU and all GPUs) with ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def best_device() -> torch.device:
    """``cuda`` when a CUDA GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def package_versions() -> dict[str, str]:
    """Python's and the book's main packages' versions."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_device(device: torch.device) -> str:
    """A short description, e.g. ``cuda (NVIDIA T4)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def hardware_note(asked: str, device: torch.device, in_colab: bool) -> str | None:
    """What a reader should know when the hardware decided the profile: ``auto`` without a GPU runs the
    ``cpu`` budget (smaller models, shorter training; every effect still shows, the numbers differ)."""
    if asked != "auto" or device.type == "cuda":
        return None
    where = ("Runtime → Change runtime type → GPU, then run all cells again" if in_colab
             else "run on a machine with a CUDA GPU")
    return (f"note: no GPU found, so profile 'auto' runs the cpu budget. For the gpu profile (more training and evaluation), {where}. "
            "Each chapter's page gives its measured run time per profile.")


WEIGHT_SOURCES = ("published", "train")  # a chapter's `weights` parameter


@dataclass(frozen=True)
class ChapterRun:
    """The settings a chapter runs with, as :func:`start_chapter` resolved them; ``weights`` says where the
    models the checkpoint store lacks come from (``"published"``: the book's published weights, else
    training with the profile's budget; ``"train"``: training with the profile's budget)."""

    profile: Profile
    dataset: str
    seed: int
    device: torch.device
    weights: str = "published"


def check_weights(weights: str) -> None:
    """Raise a ValueError unless ``weights`` is one of :data:`WEIGHT_SOURCES`."""
    if weights not in WEIGHT_SOURCES:
        raise ValueError(f"weights must be 'published' (the book's published weights where there are some) or "
                         f"'train' (train every model with the profile's budget), got {weights!r}")


def start_chapter(profile: str = "auto", dataset: str = "fashion-mnist", seed: int = 0,
                  weights: str = "published") -> ChapterRun:
    """Resolve the profile, check the dataset name, the seed and the weight source, seed everything, pick the
    device, and record all of it.

    The values are recorded (``run_profile``, ``run_device``, ``run_dataset``, ``run_seed``, ``run_weights``,
    ``run_versions``) so that the book's pipeline can state them at the top of the executed page.
    """
    resolved = resolve_profile(profile)
    dataset_info(dataset)
    check_seed(seed)
    check_weights(weights)
    seed_everything(seed)
    device = best_device()
    run = ChapterRun(resolved, dataset, seed, device, weights)
    record("run_profile", resolved.name)
    record("run_device", describe_device(device))
    record("run_dataset", dataset)
    record("run_seed", seed)
    record("run_weights", weights)
    record("run_versions", package_versions())
    in_colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
    print(f"profile {resolved.name} (asked for {profile!r}) | device {describe_device(device)} | "
          f"dataset {dataset} | seed {seed} | weights {weights}{' | on Colab' if in_colab else ''}")
    note = hardware_note(profile, device, in_colab)
    if note:
        print(note)
    return run
