"""Readers for the image classification datasets, each returning train/val/test uint8 images.

Each dataset registers itself in the suite's dataset registry (`shared.datasets`) under its
`data.name`, with a dataclass of its options. The MedMNIST v2 sets are read from
`<data.data_dir>/medmnist/<name>.npz` (CI: `../shared/data`) with their official splits;
Fashion-MNIST is read offline from the gzipped IDX files of the Debian package
`dataset-fashion-mnist`. Nothing is copied into the repository, and every reader checks its
files and says which file, key or split is wrong.

Images stay as stored, (N, H, W, C) uint8 with C = 1 (grayscale) or 3 (RGB): resizing, channel
repetition and normalisation belong to the backbone (`pipelines.vision.transforms`). Label names
are MedMNIST's own, copied from `INFO` in `medmnist/info.py` (medmnist 3.0.2 on PyPI), so class
ids mean what the published baselines mean. Each dataset's card in `data_cards/` gives the counts.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.datasets import checked_options, get_dataset, register_dataset
from shared.low_data import stratified_holdout

PIPELINE = "vision"
MEDMNIST_SOURCE = (
    "MedMNIST v2 on Zenodo (https://zenodo.org/records/10519652, CC BY 4.0; Yang et al., "
    "Sci. Data 10:41, 2023)"
)
FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImageExamples:
    """Images (N, H, W, C) uint8 with C in {1, 3}, and their (N,) int64 class ids."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise ValueError(f"images must be (N, H, W, C) with C 1 or 3, got {self.images.shape}.")
        if self.images.dtype != np.uint8 or self.labels.dtype != np.int64:
            raise ValueError(
                f"images must be uint8 and labels int64, got {self.images.dtype} and "
                f"{self.labels.dtype}."
            )
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{len(self.images)} images but labels of shape {self.labels.shape}.")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> ImageExamples:
        """The examples at `indices`, e.g. from `shared.low_data.subsample_indices`."""
        return ImageExamples(self.images[indices], self.labels[indices])


@dataclass(frozen=True)
class ImageClassificationSplits:
    """A dataset split for training, model selection and the final test.

    `flip_preserves_labels` is False where a left-right flip changes the class (OrganAMNIST's
    left and right organs), so training augmentation must not mirror the images. It has no
    default so that code rebuilding the splits (e.g. after subsampling) cannot drop it silently;
    `dataclasses.replace(splits, train=...)` keeps it.
    """

    train: ImageExamples
    val: ImageExamples
    test: ImageExamples
    label_names: list[str]
    flip_preserves_labels: bool


@dataclass(frozen=True)
class ImageFacts:
    """What the pipeline knows of a registered image dataset before reading it (its `facts`)."""

    label_names: tuple[str, ...]
    channels: int
    flip_preserves_labels: bool = True


@dataclass
class MedMNISTOptions:
    download: bool = False  # fetch the .npz from Zenodo when missing (needs internet)


@dataclass
class FashionMNISTOptions:
    idx_dir: str = FASHION_MNIST_DEBIAN_DIR
    val_fraction: float = 0.1


def load_image_dataset(
    name: str, data_dir: str | Path | None, seed: int = 0, **options: Any
) -> ImageClassificationSplits:
    """Read dataset `name` with its official splits (Fashion-MNIST: val carved with `seed`).

    Args:
        name: a registered image dataset (`data.name`).
        data_dir: folder holding `medmnist/` (`data.data_dir`); ignored by `fashion_mnist`.
        seed: seeds the Fashion-MNIST validation split; MedMNIST splits are official and fixed.
        options: dataset options (`data.options`), checked against the dataset's options class.
    """
    dataset = get_dataset(name, PIPELINE)
    return dataset.loader(name, data_dir, seed, **checked_options(dataset, options))


def _splits_of(
    name: str, train: ImageExamples, val: ImageExamples, test: ImageExamples
) -> ImageClassificationSplits:
    facts = get_dataset(name, PIPELINE).facts
    return ImageClassificationSplits(
        train, val, test, list(facts.label_names), facts.flip_preserves_labels
    )


def _load_medmnist(
    name: str, data_dir: str | Path | None, _seed: int, download: bool
) -> tuple[ImageExamples, ImageExamples, ImageExamples]:
    relative = f"medmnist/{name}.npz"
    help_text = (
        f"Get {name}.npz from {MEDMNIST_SOURCE}, or point data.data_dir=... at a folder holding "
        f"{relative} (CI uses ../shared/data), or set data.options.download=true (needs "
        "`pip install medmnist` and internet)."
    )
    if data_dir is None:
        raise FileNotFoundError(
            f"data.name={name!r} reads <data.data_dir>/{relative}, but data.data_dir is not set. "
            + help_text
        )
    path = Path(data_dir) / relative
    if download and not path.is_file():
        _download_medmnist(name, path.parent)
    if not path.is_file():
        raise FileNotFoundError(f"data.name={name!r}: {path} does not exist. " + help_text)
    keys = [f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")]
    arrays = _read_npz(path, keys)
    facts = get_dataset(name, PIPELINE).facts
    return _splits_of(name, *(_medmnist_split(arrays, path, split, facts) for split in SPLITS))


def _medmnist_split(
    arrays: Mapping[str, np.ndarray], path: Path, split: str, dataset: ImageFacts
) -> ImageExamples:
    images_at, labels_at = (f"{path} key {split}_{kind}" for kind in ("images", "labels"))
    return _check_examples(
        _channels_last(arrays[f"{split}_images"], dataset.channels, images_at),
        arrays[f"{split}_labels"],
        dataset.label_names,
        split=split,
        images_at=images_at,
        labels_at=labels_at,
    )


def _download_medmnist(name: str, folder: Path) -> None:
    """Fetch `<folder>/<name>.npz` (28x28) with the medmnist package, imported only here."""
    try:
        import medmnist
    except ImportError as error:
        raise ImportError(
            "data.options.download=true needs the medmnist package: pip install medmnist."
        ) from error
    folder.mkdir(parents=True, exist_ok=True)
    dataset_class = getattr(medmnist, medmnist.INFO[name]["python_class"])
    dataset_class(split="train", download=True, root=str(folder))


def _read_npz(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Read `keys` from the .npz archive at `path`, naming the file and key on any failure."""
    unreadable = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
    redownload = f"re-download it from {MEDMNIST_SOURCE}."
    try:
        archive = np.load(path, allow_pickle=False)
    except unreadable as error:
        raise ValueError(
            f"{path} cannot be read as an .npz archive ({error}); it is truncated or corrupt: "
            + redownload
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single .npy array, not an .npz archive with keys {keys}.")
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path} has no key {', '.join(missing)}; expected keys {list(keys)}, found "
                f"{archive.files}."
            )
        arrays = {}
        for key in keys:
            try:
                arrays[key] = archive[key]
            except unreadable as error:
                raise ValueError(
                    f"{path}: key {key} cannot be read ({error}); the file is truncated or "
                    "corrupt: " + redownload
                ) from error
    return arrays


def _channels_last(images: np.ndarray, channels: int, images_at: str) -> np.ndarray:
    """(N, H, W) grayscale or (N, H, W, C) images as (N, H, W, C), checking C is `channels`."""
    if channels == 1 and images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] != channels:
        expected = "(N, H, W) grayscale" if channels == 1 else f"(N, H, W, {channels}) colour"
        raise ValueError(f"{images_at} has shape {images.shape}; expected {expected} images.")
    return images


def _check_examples(
    images: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    *,
    split: str,
    images_at: str,
    labels_at: str,
) -> ImageExamples:
    """Check one split's arrays and return them as uint8 images with (N,) int64 class ids."""
    if images.dtype != np.uint8:
        raise ValueError(f"{images_at} has dtype {images.dtype}; expected uint8 pixels 0..255.")
    if len(images) == 0:
        raise ValueError(f"{images_at} holds no images.")
    if not np.issubdtype(labels.dtype, np.integer) or not (
        labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1)
    ):
        raise ValueError(
            f"{labels_at} has shape {labels.shape} and dtype {labels.dtype}; expected integer "
            "class ids of shape (N,) or (N, 1)."
        )
    labels = labels.reshape(-1).astype(np.int64)
    if len(labels) != len(images):
        raise ValueError(
            f"split {split!r} has {len(images)} images ({images_at}) but {len(labels)} labels "
            f"({labels_at}); they must pair one to one."
        )
    outside = labels[(labels < 0) | (labels >= len(label_names))]
    if outside.size:
        raise ValueError(
            f"{labels_at} holds label {outside[0]}, outside the class list; expected ids "
            f"0..{len(label_names) - 1} for {list(label_names)}."
        )
    return ImageExamples(images, labels)


def _load_fashion_mnist(
    _name: str, _data_dir: str | Path | None, seed: int, idx_dir: str | Path, val_fraction: float
) -> tuple[ImageExamples, ImageExamples, ImageExamples]:
    """Read the official train/test IDX files; carve a seeded, stratified val split from train."""
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 < val_fraction < 1
    ):
        raise ValueError(f"data.options.val_fraction must be in (0, 1), got {val_fraction!r}.")
    train, test = (_read_fashion_split(Path(idx_dir), split) for split in ("train", "test"))
    val_indices = stratified_holdout(train.labels, val_fraction, seed)
    train_indices = np.setdiff1d(np.arange(len(train)), val_indices)
    return _splits_of("fashion_mnist", train.subset(train_indices), train.subset(val_indices), test)


def _read_fashion_split(idx_dir: Path, split: str) -> ImageExamples:
    images_path, labels_path = (idx_dir / name for name in FASHION_MNIST_FILES[split])
    for path in (images_path, labels_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"data.name='fashion_mnist': {path} does not exist. Install the Debian package "
                "(apt-get install -y dataset-fashion-mnist, files in "
                f"{FASHION_MNIST_DEBIAN_DIR}) or set data.options.idx_dir=... to a folder holding "
                "the four gzipped IDX files of github.com/zalandoresearch/fashion-mnist."
            )
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise ValueError(
            f"{images_path} holds an array of shape {images.shape}; expected (N, H, W)."
        )
    return _check_examples(
        images[..., np.newaxis],
        labels,
        get_dataset("fashion_mnist", PIPELINE).facts.label_names,
        split=split,
        images_at=str(images_path),
        labels_at=str(labels_path),
    )


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (the MNIST format) as a writable uint8 array."""
    try:
        with gzip.open(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{path} cannot be decompressed ({error}); it is truncated or not gzip: re-install "
            "dataset-fashion-mnist or re-download the file."
        ) from error
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes: it starts with {raw[:4].hex()}, "
            "expected 000008 and a dimension count."
        )
    header_size = 4 + 4 * raw[3]
    shape = tuple(int.from_bytes(raw[i : i + 4], "big") for i in range(4, header_size, 4))
    if len(raw) != header_size + int(np.prod(shape)):
        raise ValueError(
            f"{path} holds {len(raw) - header_size} data bytes but its header declares shape "
            f"{shape} ({int(np.prod(shape))} bytes); the file is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def _register_medmnist(name: str, label_names: Sequence[str], channels: int, **facts: Any) -> None:
    register_dataset(
        name,
        _load_medmnist,
        pipeline=PIPELINE,
        options=MedMNISTOptions,
        source=MEDMNIST_SOURCE,
        facts=ImageFacts(tuple(label_names), channels, **facts),
    )


_register_medmnist("pneumoniamnist", ["normal", "pneumonia"], channels=1)
_register_medmnist(
    "bloodmnist",
    [
        "basophil",
        "eosinophil",
        "erythroblast",
        "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
        "lymphocyte",
        "monocyte",
        "neutrophil",
        "platelet",
    ],
    channels=3,
)
_register_medmnist(
    "organamnist",
    [
        "bladder",
        "femur-left",
        "femur-right",
        "heart",
        "kidney-left",
        "kidney-right",
        "liver",
        "lung-left",
        "lung-right",
        "pancreas",
        "spleen",
    ],
    channels=1,
    # Classes name left and right organs: a mirrored image would carry the wrong label.
    flip_preserves_labels=False,
)
_register_medmnist("breastmnist", ["malignant", "normal, benign"], channels=1)
register_dataset(
    "fashion_mnist",
    _load_fashion_mnist,
    pipeline=PIPELINE,
    options=FashionMNISTOptions,
    source="Fashion-MNIST (github.com/zalandoresearch/fashion-mnist, MIT), Debian package "
    "dataset-fashion-mnist",
    facts=ImageFacts(
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        channels=1,
    ),
)
# Registers image_folder; imported last because it builds on the classes above.
import pipelines.vision.image_folder  # noqa: E402, F401
