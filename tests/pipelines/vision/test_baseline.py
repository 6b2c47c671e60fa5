"""Tests for the pixels + logistic regression image baseline."""

import numpy as np
import pytest

from pipelines.vision.baseline import SIDE, pixel_features, pixel_logistic_regression_baseline
from pipelines.vision.datasets import ImageExamples, load_image_dataset


def quadrant_images(class_ids: list[int], size: int, seed: int) -> ImageExamples:
    """Class k has a bright k-th quadrant on noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(class_ids), size, size, 3), dtype=np.uint8)
    half = size // 2
    for image, class_id in zip(images, class_ids, strict=True):
        row, column = divmod(class_id, 2)
        image[row * half : (row + 1) * half, column * half : (column + 1) * half] = 220
    return ImageExamples(images, np.array(class_ids, dtype=np.int64))


def test_native_size_images_pass_unchanged_and_others_are_shrunk():
    native = quadrant_images([0, 3], size=SIDE, seed=0)
    channels_first = native.images.transpose(0, 3, 1, 2).reshape(2, -1)
    assert np.allclose(pixel_features(native.images), channels_first / 255)
    large = quadrant_images([0, 3], size=96, seed=0)
    features = pixel_features(large.images)
    assert features.shape == (2, SIDE * SIDE * 3)
    assert features.max() <= 1.0


def test_quadrants_are_told_apart_and_an_untrained_class_scores_zero():
    names = ["top left", "top right", "bottom left", "bottom right"]
    train = quadrant_images([0, 1, 2] * 10, size=64, seed=1)
    test = quadrant_images([0, 1, 2, 3] * 3, size=64, seed=2)
    metrics = pixel_logistic_regression_baseline(train, test, label_names=names)
    assert metrics["auroc_per_class"]["top left"] == 1.0
    assert metrics["auroc_per_class"]["bottom right"] == 0.5, "never trained: constant 0"
    assert metrics["accuracy"] == pytest.approx(0.75)


def test_pneumoniamnist_baseline_is_well_above_chance(data_dir):
    splits = load_image_dataset("pneumoniamnist", data_dir, seed=0)
    metrics = pixel_logistic_regression_baseline(
        splits.train, splits.test, label_names=splits.label_names
    )
    assert metrics["auroc_macro"] > 0.8
