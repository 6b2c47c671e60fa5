"""Any folder of labelled images, laid out as `<root>/<class>/<image>` (torchvision's ImageFolder).

For users bringing their own images: class names are the sub-folder names (sorted), every image
is read with Pillow and resized to `size` x `size` so the splits stack into arrays like the
MedMNIST ones, and a seeded, stratified validation and test split is carved out unless the root
already has `train/`, `val/` and `test/` sub-folders, which are then used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipelines.vision.datasets import ImageClassificationSplits, ImageExamples
from shared.datasets import register_dataset
from shared.low_data import stratified_holdout

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SPLITS = ("train", "val", "test")


def class_folders(root: Path) -> list[str]:
    names = sorted(path.name for path in root.iterdir() if path.is_dir())
    if not names:
        raise ValueError(f"{root} has no class sub-folders; expected <root>/<class>/<image>.")
    return names


def read_image(path: Path, size: int, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            pixels = image.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path} is not a readable image ({error}).") from error
    array = np.asarray(pixels, dtype=np.uint8)
    return array[..., np.newaxis] if array.ndim == 2 else array


def read_split(root: Path, label_names: list[str], size: int, mode: str) -> ImageExamples:
    images, labels = [], []
    for class_id, name in enumerate(label_names):
        folder = root / name
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        images += [read_image(path, size, mode) for path in files]
        labels += [class_id] * len(files)
    return ImageExamples(np.stack(images), np.asarray(labels, dtype=np.int64))


@dataclass
class ImageFolderOptions:
    size: int = 64  # pixels per side every image is resized to
    grayscale: bool = False
    val_fraction: float = 0.1  # carved from the folder unless it has train/val/test sub-folders
    test_fraction: float = 0.2


def load_image_folder(
    name: str,
    data_dir: str | Path | None,
    seed: int,
    size: int,
    grayscale: bool,
    val_fraction: float,
    test_fraction: float,
) -> ImageClassificationSplits:
    """Read `<data_dir>/<class>/*` (or its train/val/test sub-folders) as image splits."""
    if data_dir is None or not Path(data_dir).is_dir():
        raise FileNotFoundError(
            f"data.name='image_folder' reads images from data.data_dir, which is {data_dir!r}: "
            "point it at a folder laid out as <root>/<class>/<image>."
        )
    root, mode = Path(data_dir), "L" if grayscale else "RGB"
    if all((root / split).is_dir() for split in SPLITS):
        label_names = class_folders(root / "train")
        train, val, test = (read_split(root / s, label_names, size, mode) for s in SPLITS)
    else:
        if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
            raise ValueError("data.options.val_fraction + test_fraction must be in (0, 1).")
        label_names = class_folders(root)
        everything = read_split(root, label_names, size, mode)
        test_indices = stratified_holdout(everything.labels, test_fraction, seed)
        rest = np.setdiff1d(np.arange(len(everything.labels)), test_indices)
        held = stratified_holdout(everything.labels[rest], val_fraction / (1 - test_fraction), seed)
        val_indices = rest[held]
        train_indices = np.setdiff1d(rest, val_indices)
        train, val, test = (
            everything.subset(i) for i in (train_indices, val_indices, test_indices)
        )
    return ImageClassificationSplits(train, val, test, label_names, flip_preserves_labels=True)


register_dataset(
    "image_folder",
    load_image_folder,
    pipeline="vision",
    options=ImageFolderOptions,
    source="your own <root>/<class>/<image> folder (data.data_dir)",
)
