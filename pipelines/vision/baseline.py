"""Pixels + logistic regression: the non-neural baseline reported beside every image run.

MedMNIST v2's benchmark puts auto-sklearn on the raw pixels beside its CNNs; a PEFT result on a
small medical image set means little without such a reference. Images are shrunk to `SIDE` x
`SIDE` (MedMNIST's native size, so its images pass unchanged), their pixels standardised and
projected onto their principal components, then a linear classifier fits in seconds on a CPU.
It sees the same training images as the run (after low-data subsampling) and is scored on the
same test split with the same metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

from pipelines.vision.datasets import ImageExamples
from shared.linear_baseline import multiclass_probabilities, scaled_logistic_regression
from shared.metrics import classification_metrics

SIDE = 28
COMPONENTS = 64
BATCH = 1024


def pixel_features(images: np.ndarray) -> np.ndarray:
    """(images, SIDE x SIDE x channels) floats in [0, 1] from (N, H, W, C) uint8 images."""
    rows = []
    for start in range(0, len(images), BATCH):
        batch = torch.from_numpy(images[start : start + BATCH]).permute(0, 3, 1, 2).float() / 255
        if batch.shape[-2:] != (SIDE, SIDE):
            batch = functional.interpolate(
                batch, size=(SIDE, SIDE), mode="bilinear", antialias=True, align_corners=False
            )
        rows.append(batch.flatten(start_dim=1))
    return torch.cat(rows).numpy() if rows else np.zeros((0, SIDE * SIDE * images.shape[-1]))


def pixel_logistic_regression_baseline(
    train: ImageExamples, test: ImageExamples, *, label_names: Sequence[str], seed: int = 0
) -> dict[str, float | dict[str, float]]:
    """Fit standardised pixels, projected onto their first COMPONENTS principal components,
    + logistic regression on `train`; score `test`.

    Returns:
        `shared.metrics.classification_metrics` of the test predictions.
    """
    features = pixel_features(train.images)
    components = min(COMPONENTS, *features.shape)
    probs = multiclass_probabilities(
        scaled_logistic_regression(seed, components),
        features,
        train.labels,
        pixel_features(test.images),
        len(label_names),
    )
    return classification_metrics(probs, test.labels, multilabel=False, label_names=label_names)
