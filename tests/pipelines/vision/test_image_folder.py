"""Any folder of labelled images: classes from sub-folders, seeded splits, clear errors."""

import numpy as np
import pytest
from PIL import Image

from pipelines.vision.datasets import load_image_dataset


def write_images(root, counts: dict[str, int], size=(20, 12)):
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for index in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")


def test_classes_come_from_folders_and_splits_are_stratified_and_seeded(tmp_path):
    write_images(tmp_path, {"cat": 20, "dog": 10})
    splits = load_image_dataset("image_folder", tmp_path, seed=3, size=16)
    assert splits.label_names == ["cat", "dog"]
    assert splits.train.images.shape[1:] == (16, 16, 3)
    assert np.bincount(splits.test.labels).tolist() == [4, 2]  # 20% of each class
    assert np.bincount(splits.val.labels).tolist() == [2, 1]  # 10% of each class
    assert len(splits.train.labels) + len(splits.val.labels) + len(splits.test.labels) == 30
    again = load_image_dataset("image_folder", tmp_path, seed=3, size=16)
    assert np.array_equal(again.test.images, splits.test.images)


def test_existing_train_val_test_folders_are_used_as_they_are(tmp_path):
    for split, count in (("train", 3), ("val", 2), ("test", 1)):
        write_images(tmp_path / split, {"a": count, "b": count})
    splits = load_image_dataset("image_folder", tmp_path, grayscale=True, size=8)
    assert [len(s.labels) for s in (splits.train, splits.val, splits.test)] == [6, 4, 2]
    assert splits.train.images.shape[1:] == (8, 8, 1)


def test_missing_folder_unreadable_image_and_unknown_option_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.data_dir"):
        load_image_dataset("image_folder", tmp_path / "nowhere")
    write_images(tmp_path, {"a": 2})
    (tmp_path / "a" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.png"):
        load_image_dataset("image_folder", tmp_path)
    with pytest.raises(ValueError, match="data.options.sise"):
        load_image_dataset("image_folder", tmp_path, sise=3)
