"""MONAI transforms turning one stored image into the input an ImageNet-pretrained backbone expects.

Input: one (H, W, C) uint8 image as held by `ImageExamples` (C = 1 or 3). Output: a (3, S, S)
float32 torch tensor, S = `image_size`: pixels scaled from 0..255 to [0, 1], grayscale repeated to
three channels, normalised with the backbone's per-channel mean and std, resized bilinearly.

Order matters for cost, not for the result: the light training augmentation (flip, small
rotation, zoom) runs at the native 28x28 resolution and the resize comes last, so a 224-pixel
backbone pays for one interpolation per image instead of four. Normalising before the resize is
exact because bilinear weights sum to one. Pixels are scaled by the fixed range 0..255, not per
image, so absolute intensity (which the mean/std of the backbone assume) is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from monai.transforms import (
    Compose,
    EnsureChannelFirst,
    EnsureType,
    NormalizeIntensity,
    RandFlip,
    RandRotate,
    RandZoom,
    RepeatChannel,
    Resize,
    ScaleIntensityRange,
    Transform,
)

ROTATE_DEGREES = 10.0
ZOOM_RANGE = (0.9, 1.1)
AUGMENT_PROB = 0.5


def train_transforms(
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    augment: bool,
    *,
    channels: int,
    flip: bool = True,
) -> Compose:
    """Training transforms; with `augment`, random flip (if `flip`), rotation and zoom.

    Args:
        image_size: side S of the square output, e.g. 28 (native) or 64/128/224.
        mean, std: the backbone's per-channel normalisation on the [0, 1] scale (3 values each).
        augment: add light random augmentation; False gives the same transforms as evaluation.
        channels: channels C of the stored images (1 grayscale, 3 RGB).
        flip: allow left-right flips; False where mirroring changes the class (OrganAMNIST).
    """
    random: list[Transform] = []
    if augment:
        if flip:
            random.append(RandFlip(prob=AUGMENT_PROB, spatial_axis=1))
        random += [
            RandRotate(range_x=math.radians(ROTATE_DEGREES), prob=AUGMENT_PROB),
            RandZoom(
                prob=AUGMENT_PROB, min_zoom=ZOOM_RANGE[0], max_zoom=ZOOM_RANGE[1], mode="bilinear"
            ),
        ]
    return _compose(image_size, mean, std, channels, random)


def eval_transforms(
    image_size: int, mean: Sequence[float], std: Sequence[float], *, channels: int
) -> Compose:
    """Deterministic transforms for validation and test (and training without augmentation)."""
    return _compose(image_size, mean, std, channels, [])


def _compose(
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    channels: int,
    random: list[Transform],
) -> Compose:
    _check(image_size, mean, std, channels)
    return Compose(
        [
            EnsureChannelFirst(channel_dim=-1),
            EnsureType(data_type="tensor", dtype=torch.float32, track_meta=False),
            ScaleIntensityRange(a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0),
            *random,
            *([RepeatChannel(repeats=3)] if channels == 1 else []),
            NormalizeIntensity(subtrahend=list(mean), divisor=list(std), channel_wise=True),
            Resize(spatial_size=(image_size, image_size), mode="bilinear"),
            # Spatial transforms return MONAI MetaTensors; the model and metrics want plain ones.
            EnsureType(data_type="tensor", track_meta=False),
        ]
    )


def _check(image_size: int, mean: Sequence[float], std: Sequence[float], channels: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"data.image_size must be a positive integer, got {image_size!r}.")
    if channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {channels!r}.")
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(
            f"the backbone's mean and std must be 3 values each (one per RGB channel) with std > "
            f"0, got mean={list(mean)} and std={list(std)}."
        )
