"""Tests for the image transforms and the image data module: shapes, values, caching, batches.

The transforms live in `pipelines/vision/transforms.py`; they are tested here, with the data
module that is their only user.
"""

import dataclasses

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import RandFlip

from pipelines.vision.datamodule import ImageClassificationDataModule
from pipelines.vision.datasets import ImageClassificationSplits, ImageExamples
from pipelines.vision.transforms import eval_transforms, train_transforms
from shared.low_data import subsample_indices

# MONAI's affine grids take milliseconds with two threads on a loaded 2-core machine.
pytestmark = pytest.mark.usefixtures("one_torch_thread")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _examples(count: int, channels: int, classes: int = 2, seed: int = 0) -> ImageExamples:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 28, 28, channels), dtype=np.uint8)
    return ImageExamples(images, np.arange(count, dtype=np.int64) % classes)


def _splits(channels: int = 1, flip: bool = True) -> ImageClassificationSplits:
    return ImageClassificationSplits(
        train=_examples(12, channels),
        val=_examples(6, channels, seed=1),
        test=_examples(5, channels, seed=2),
        label_names=["a", "b"],
        flip_preserves_labels=flip,
    )


def _datamodule(splits: ImageClassificationSplits, **overrides) -> ImageClassificationDataModule:
    arguments = dict(
        image_size=32, mean=MEAN, std=STD, augment=False, batch_size=4, eval_batch_size=8
    )
    datamodule = ImageClassificationDataModule(splits, **{**arguments, **overrides})
    datamodule.setup("fit")
    return datamodule


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("image_size", [28, 64])
def test_eval_transforms_give_three_channel_float_tensors(channels, image_size):
    image = _examples(1, channels).images[0]
    output = eval_transforms(image_size, MEAN, STD, channels=channels)(image)
    assert type(output) is torch.Tensor and not isinstance(output, MetaTensor)
    assert output.shape == (3, image_size, image_size) and output.dtype == torch.float32


def test_eval_transforms_scale_to_unit_range_and_normalise_per_channel():
    image = np.zeros((28, 28, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 0, 51, 255
    output = eval_transforms(64, MEAN, STD, channels=3)(image)
    expected = (torch.tensor([0.0, 0.2, 1.0]) - torch.tensor(MEAN)) / torch.tensor(STD)
    torch.testing.assert_close(output, expected[:, None, None].expand(3, 64, 64))


def test_grayscale_is_repeated_and_native_size_keeps_pixels():
    image = _examples(1, 1).images[0]
    output = eval_transforms(28, (0.0,) * 3, (1.0,) * 3, channels=1)(image)
    pixels = torch.from_numpy(image[..., 0]).float() / 255
    for channel in output:
        torch.testing.assert_close(channel, pixels)


def test_train_transforms_augment_only_when_asked_and_are_seeded():
    image = _examples(1, 3).images[0]
    plain = train_transforms(32, MEAN, STD, augment=False, channels=3)(image)
    torch.testing.assert_close(plain, eval_transforms(32, MEAN, STD, channels=3)(image))
    augmented = train_transforms(32, MEAN, STD, augment=True, channels=3)
    augmented.set_random_state(seed=0)
    first = [augmented(image) for _ in range(4)]
    augmented.set_random_state(seed=0)
    again = [augmented(image) for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert first[0].shape == (3, 32, 32)
    assert any(not torch.allclose(output, plain) for output in first)
    no_flip = train_transforms(32, MEAN, STD, augment=True, channels=3, flip=False)
    assert not any(isinstance(transform, RandFlip) for transform in no_flip.transforms)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(image_size=0), r"data\.image_size must be a positive integer, got 0"),
        (dict(mean=(0.5,)), r"mean and std must be 3 values each"),
        (dict(std=(0.2, 0.0, 0.2)), r"with std > 0"),
        (dict(channels=2), r"1 or 3 channels, got 2"),
    ],
)
def test_transform_arguments_are_checked(arguments, message):
    with pytest.raises(ValueError, match=message):
        eval_transforms(**{**dict(image_size=28, mean=MEAN, std=STD, channels=1), **arguments})


@pytest.mark.parametrize("channels", [1, 3])
def test_batches_are_inputs_and_labels_only(channels):
    datamodule = _datamodule(_splits(channels))
    for loader, size in [
        (datamodule.train_dataloader(), 4),
        (datamodule.val_dataloader(), 6),
        (datamodule.test_dataloader(), 5),
    ]:
        batch = next(iter(loader))
        assert set(batch) == {"inputs", "labels"}
        assert batch["inputs"].shape == (size, 3, 32, 32) and batch["inputs"].dtype == torch.float32
        assert batch["labels"].shape == (size,) and batch["labels"].dtype == torch.int64


def test_deterministic_splits_are_cached_once_and_match_the_transforms():
    splits = _splits()
    datamodule = _datamodule(splits, augment=True)
    cached = {split: dataset.cached is not None for split, dataset in datamodule.datasets.items()}
    assert cached == {"train": False, "val": True, "test": True}
    batch = next(iter(datamodule.val_dataloader()))
    transform = eval_transforms(32, MEAN, STD, channels=1)
    expected = torch.stack([transform(image) for image in splits.val.images])
    torch.testing.assert_close(batch["inputs"], expected)
    torch.testing.assert_close(batch["labels"], torch.from_numpy(splits.val.labels))
    uncached = _datamodule(splits, max_cache_bytes=0)
    assert all(dataset.cached is None for dataset in uncached.datasets.values())
    torch.testing.assert_close(next(iter(uncached.val_dataloader()))["inputs"], expected)


def test_flip_is_left_out_where_it_changes_the_label():
    flips = _datamodule(_splits(flip=True), augment=True).datasets["train"].transform
    no_flips = _datamodule(_splits(flip=False), augment=True).datasets["train"].transform
    assert any(isinstance(transform, RandFlip) for transform in flips.transforms)
    assert not any(isinstance(transform, RandFlip) for transform in no_flips.transforms)


def test_augmented_training_runs_in_a_loader_worker():
    datamodule = _datamodule(_splits(3), augment=True, num_workers=1)
    batches = list(datamodule.train_dataloader())
    assert sum(len(batch["labels"]) for batch in batches) == 12
    assert all(batch["inputs"].shape[1:] == (3, 32, 32) for batch in batches)


def test_subsampled_training_split_is_served():
    splits = _splits()
    indices = subsample_indices(splits.train.labels, k_shot=3, seed=0, label_names=["a", "b"])
    subsampled = dataclasses.replace(splits, train=splits.train.subset(indices))
    datamodule = _datamodule(subsampled)
    labels = torch.cat([batch["labels"] for batch in datamodule.train_dataloader()])
    assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
