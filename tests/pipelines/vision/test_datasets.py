"""Tests for the image dataset readers: real files when present, malformed files always."""

import dataclasses
import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from real_data import real_data_dir

from pipelines.vision.datasets import (
    FASHION_MNIST_DEBIAN_DIR,
    FASHION_MNIST_FILES,
    ImageExamples,
    load_image_dataset,
    read_idx,
)
from shared.datasets import dataset_names, get_dataset
from shared.low_data import subsample_indices

# Official MedMNIST v2 split sizes (shared/data MANIFEST.md and medmnist INFO n_samples).
MEDMNIST_COUNTS = {
    "pneumoniamnist": (4708, 524, 624),
    "bloodmnist": (11959, 1712, 3421),
    "organamnist": (34561, 6491, 17778),
    "breastmnist": (546, 78, 156),
}


def _medmnist_arrays(
    channels: int = 1, label_shape: str = "(N,)", sizes=(8, 4, 4), classes: int = 2
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, size in zip(("train", "val", "test"), sizes, strict=True):
        shape = (size, 28, 28) if channels == 1 else (size, 28, 28, channels)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        labels = (np.arange(size) % classes).astype(np.uint8)
        arrays[f"{split}_labels"] = labels if label_shape == "(N,)" else labels[:, np.newaxis]
    return arrays


def _write_npz(data_dir: Path, name: str, arrays: dict[str, np.ndarray]) -> Path:
    path = data_dir / "medmnist" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _write_idx(path: Path, array: np.ndarray, header: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if header is None:
        dims = b"".join(size.to_bytes(4, "big") for size in array.shape)
        header = bytes([0, 0, 8, array.ndim]) + dims
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())
    return path


def _write_fashion(idx_dir: Path, per_class: int = 3, test_per_class: int = 1) -> Path:
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("test", test_per_class)):
        images_name, labels_name = FASHION_MNIST_FILES[split]
        labels = np.tile(np.arange(10), count)
        _write_idx(idx_dir / images_name, rng.integers(0, 256, (len(labels), 28, 28)))
        _write_idx(idx_dir / labels_name, labels)
    return idx_dir


def test_registry_lists_the_five_datasets_and_image_folder():
    assert dataset_names("vision") == [
        "pneumoniamnist",
        "bloodmnist",
        "organamnist",
        "breastmnist",
        "fashion_mnist",
        "image_folder",
    ]
    facts = {name: get_dataset(name, "vision").facts for name in dataset_names("vision")[:5]}
    assert [fact.channels for fact in facts.values()] == [1, 3, 1, 1, 1]
    assert len(facts["bloodmnist"].label_names) == 8
    assert len(facts["organamnist"].label_names) == 11


@pytest.mark.parametrize("name", list(MEDMNIST_COUNTS))
def test_real_medmnist_files_load_with_official_splits(name, data_dir, require_data):
    require_data("medmnist", f"{name}.npz")
    splits = load_image_dataset(name, data_dir)
    parts = (splits.train, splits.val, splits.test)
    assert tuple(len(part) for part in parts) == MEDMNIST_COUNTS[name]
    channels = get_dataset(name, "vision").facts.channels
    for part in parts:
        assert part.images.shape[1:] == (28, 28, channels) and part.images.dtype == np.uint8
        assert part.labels.dtype == np.int64 and part.labels.ndim == 1
        assert set(np.unique(part.labels)) == set(range(len(splits.label_names)))
    assert splits.flip_preserves_labels == (name != "organamnist")


def test_real_breastmnist_counts_match_the_official_class_balance(data_dir, require_data):
    require_data("medmnist", "breastmnist.npz")
    splits = load_image_dataset("breastmnist", data_dir)
    assert splits.label_names == ["malignant", "normal, benign"]
    assert np.bincount(splits.train.labels).tolist() == [147, 399]
    assert np.bincount(splits.test.labels).tolist() == [42, 114]


@pytest.mark.parametrize("label_shape", ["(N,)", "(N, 1)"])
def test_labels_shaped_n_or_n_by_1_load_the_same(tmp_path, label_shape):
    arrays = _medmnist_arrays(label_shape=label_shape)
    _write_npz(tmp_path, "breastmnist", arrays)
    splits = load_image_dataset("breastmnist", tmp_path)
    assert splits.train.labels.tolist() == [0, 1] * 4
    assert splits.train.labels.dtype == np.int64
    assert splits.train.images.shape == (8, 28, 28, 1)
    np.testing.assert_array_equal(splits.test.images[..., 0], arrays["test_images"])


def test_rgb_images_keep_their_three_channels(tmp_path):
    arrays = _medmnist_arrays(channels=3, classes=8)
    _write_npz(tmp_path, "bloodmnist", arrays)
    splits = load_image_dataset("bloodmnist", tmp_path)
    assert splits.val.images.shape == (4, 28, 28, 3)
    np.testing.assert_array_equal(splits.val.images, arrays["val_images"])


def test_unknown_name_and_option_are_rejected():
    with pytest.raises(ValueError, match=r"data\.name='cifar10'.*pneumoniamnist, bloodmnist"):
        load_image_dataset("cifar10", real_data_dir())
    with pytest.raises(ValueError, match=r"data\.options\.top_k.*'bloodmnist'.*download"):
        load_image_dataset("bloodmnist", real_data_dir(), top_k=3)
    with pytest.raises(ValueError, match=r"data\.options\.download.*not a valid bool"):
        load_image_dataset("bloodmnist", real_data_dir(), download="sometimes")


def test_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_image_dataset("pneumoniamnist", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "medmnist" / "pneumoniamnist.npz") in message
    assert "zenodo.org" in message and "data.data_dir" in message
    with pytest.raises(FileNotFoundError, match=r"data\.data_dir is not set.*Zenodo"):
        load_image_dataset("pneumoniamnist", None)


def test_truncated_npz_is_a_value_error_naming_the_file(tmp_path):
    path = _write_npz(tmp_path, "breastmnist", _medmnist_arrays())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))} cannot be read as an \.npz"):
        load_image_dataset("breastmnist", tmp_path)


def test_corrupt_array_in_npz_names_file_and_key(tmp_path):
    path = _write_npz(tmp_path, "breastmnist", _medmnist_arrays(sizes=(64, 4, 4)))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside train_images, the bulk: its CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"breastmnist\.npz: key train_images cannot be read"):
        load_image_dataset("breastmnist", tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an archive at all", r"breastmnist\.npz cannot be read as an \.npz archive"),
        (b"", r"breastmnist\.npz cannot be read as an \.npz archive"),
    ],
)
def test_non_archive_files_are_value_errors(tmp_path, content, message):
    path = tmp_path / "medmnist" / "breastmnist.npz"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_image_dataset("breastmnist", tmp_path)


def test_single_npy_array_is_not_an_archive(tmp_path):
    path = tmp_path / "medmnist" / "breastmnist.npz"
    path.parent.mkdir()
    with path.open("wb") as file:
        np.save(file, np.zeros(3))
    with pytest.raises(ValueError, match=r"breastmnist\.npz holds a single \.npy array"):
        load_image_dataset("breastmnist", tmp_path)


def test_missing_key_names_key_and_file(tmp_path):
    arrays = _medmnist_arrays()
    del arrays["val_labels"]
    _write_npz(tmp_path, "breastmnist", arrays)
    with pytest.raises(ValueError, match=r"breastmnist\.npz has no key val_labels; expected"):
        load_image_dataset("breastmnist", tmp_path)


def test_images_and_labels_of_different_lengths_name_the_split(tmp_path):
    arrays = _medmnist_arrays()
    arrays["test_labels"] = arrays["test_labels"][:3]
    _write_npz(tmp_path, "breastmnist", arrays)
    with pytest.raises(ValueError, match=r"split 'test' has 4 images .* but 3 labels"):
        load_image_dataset("breastmnist", tmp_path)


def test_label_outside_the_class_list_names_value_and_file(tmp_path):
    arrays = _medmnist_arrays(label_shape="(N, 1)")
    arrays["val_labels"][2] = 7
    _write_npz(tmp_path, "pneumoniamnist", arrays)
    with pytest.raises(
        ValueError, match=r"pneumoniamnist\.npz key val_labels holds label 7.*\['normal'"
    ):
        load_image_dataset("pneumoniamnist", tmp_path)


@pytest.mark.parametrize(
    ("name", "channels", "message"),
    [
        ("bloodmnist", 1, r"train_images has shape \(8, 28, 28\); expected \(N, H, W, 3\)"),
        ("pneumoniamnist", 3, r"train_images has shape \(8, 28, 28, 3\); expected \(N, H, W\)"),
    ],
)
def test_wrong_image_dims_name_the_key(tmp_path, name, channels, message):
    _write_npz(tmp_path, name, _medmnist_arrays(channels=channels))
    with pytest.raises(ValueError, match=message):
        load_image_dataset(name, tmp_path)


def test_wrong_dtypes_name_the_key(tmp_path):
    arrays = _medmnist_arrays()
    arrays["train_images"] = arrays["train_images"].astype(np.float32)
    _write_npz(tmp_path, "breastmnist", arrays)
    with pytest.raises(ValueError, match=r"key train_images has dtype float32; expected uint8"):
        load_image_dataset("breastmnist", tmp_path)
    arrays = _medmnist_arrays()
    arrays["train_labels"] = arrays["train_labels"].astype(np.float64)
    _write_npz(tmp_path, "breastmnist", arrays)
    with pytest.raises(ValueError, match=r"key train_labels has shape \(8,\) and dtype float64"):
        load_image_dataset("breastmnist", tmp_path)


def test_fashion_mnist_reads_idx_and_carves_a_stratified_seeded_val_split(tmp_path):
    idx_dir = _write_fashion(tmp_path / "fashion", per_class=10, test_per_class=2)
    splits = load_image_dataset("fashion_mnist", None, seed=0, idx_dir=idx_dir)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (90, 10, 20)
    assert np.bincount(splits.val.labels).tolist() == [1] * 10
    assert splits.train.images.shape == (90, 28, 28, 1) and splits.label_names[0] == "T-shirt/top"
    train_images = read_idx(idx_dir / FASHION_MNIST_FILES["train"][0])
    seen = {image.tobytes() for image in np.concatenate([splits.train.images, splits.val.images])}
    assert seen == {image.tobytes() for image in train_images[..., np.newaxis]}
    again = load_image_dataset("fashion_mnist", None, seed=0, idx_dir=idx_dir)
    other = load_image_dataset("fashion_mnist", None, seed=1, idx_dir=idx_dir, val_fraction=0.2)
    np.testing.assert_array_equal(again.val.images, splits.val.images)
    assert len(other.val) == 20 and not np.array_equal(other.val.images[:10], splits.val.images)


def test_fashion_mnist_missing_files_give_the_apt_line(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"apt-get install -y dataset-fashion-mnist"):
        load_image_dataset("fashion_mnist", None, idx_dir=tmp_path)
    with pytest.raises(ValueError, match=r"data\.options\.val_fraction must be in \(0, 1\)"):
        load_image_dataset("fashion_mnist", None, idx_dir=tmp_path, val_fraction=1.0)


def test_fashion_mnist_bad_idx_files_name_the_file(tmp_path):
    idx_dir = _write_fashion(tmp_path)
    labels_path = idx_dir / FASHION_MNIST_FILES["train"][1]
    _write_idx(labels_path, np.arange(30) % 11)
    with pytest.raises(ValueError, match=rf"{re.escape(str(labels_path))} holds label 10"):
        load_image_dataset("fashion_mnist", None, idx_dir=idx_dir)
    _write_idx(labels_path, np.arange(29) % 10)
    with pytest.raises(ValueError, match=r"split 'train' has 30 images .* but 29 labels"):
        load_image_dataset("fashion_mnist", None, idx_dir=idx_dir)
    _write_idx(
        labels_path, np.arange(30) % 10, header=bytes([0, 0, 8, 1]) + (31).to_bytes(4, "big")
    )
    with pytest.raises(ValueError, match=r"holds 30 data bytes but its header declares shape"):
        read_idx(labels_path)
    _write_idx(labels_path, np.arange(30), header=b"\x00\x00\x0d\x01" + (30).to_bytes(4, "big"))
    with pytest.raises(ValueError, match=r"not an IDX file of unsigned bytes"):
        read_idx(labels_path)
    labels_path.write_bytes(gzip.compress(b"\x00" * 1000)[:20])
    with pytest.raises(ValueError, match=rf"{re.escape(str(labels_path))} cannot be decompressed"):
        read_idx(labels_path)


@pytest.mark.skipif(
    not Path(FASHION_MNIST_DEBIAN_DIR).is_dir(),
    reason="Debian package dataset-fashion-mnist is not installed",
)
def test_real_fashion_mnist_from_the_debian_package():
    splits = load_image_dataset("fashion_mnist", None)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    assert np.bincount(splits.val.labels).tolist() == [600] * 10
    assert np.bincount(splits.test.labels).tolist() == [1000] * 10


def test_subsampling_with_shared_low_data_keeps_every_class(tmp_path):
    _write_npz(tmp_path, "bloodmnist", _medmnist_arrays(channels=3, sizes=(40, 8, 8), classes=8))
    splits = load_image_dataset("bloodmnist", tmp_path)
    indices = subsample_indices(
        splits.train.labels, k_shot=2, seed=0, label_names=splits.label_names
    )
    subsampled = dataclasses.replace(splits, train=splits.train.subset(indices))
    assert np.bincount(subsampled.train.labels).tolist() == [2] * 8
    assert subsampled.train.images.shape == (16, 28, 28, 3)
    np.testing.assert_array_equal(subsampled.train.images, splits.train.images[indices])
    half = subsample_indices(splits.train.labels, fraction=0.5, seed=0)
    assert isinstance(splits.train.subset(half), ImageExamples) and len(half) == 16


def test_image_examples_reject_mismatched_arrays():
    with pytest.raises(ValueError, match=r"3 images but labels of shape \(2,\)"):
        ImageExamples(np.zeros((3, 4, 4, 1), np.uint8), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\) with C 1 or 3"):
        ImageExamples(np.zeros((3, 4, 4, 2), np.uint8), np.zeros(3, np.int64))
