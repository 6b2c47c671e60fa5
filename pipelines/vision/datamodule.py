"""Image splits as Lightning data loaders of {"inputs": (B, 3, S, S) float, "labels": (B,) int64}.

Deterministic transforms (validation, test, and training without augmentation) run once per split
and the tensors are kept, so later epochs only index them. A split whose tensors would pass
`max_cache_bytes` is transformed per batch instead, as augmented training always is: OrganAMNIST's
17,778 test images at 224 pixels would take 10.7 GB.

With `channels_last`, each batch's images are laid out channels-last once they reach the device
(`shared.memory_format`). After `serve_example_keys()` (called when the model has a frozen
prefix, `shared.fast_classifier`), examples of deterministic splits also carry `example_keys`:
a digest of the transformed image, under which the prefix's features are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.data.utils import worker_init_fn
from monai.transforms import Compose

from pipelines.vision.datasets import SPLITS, ImageClassificationSplits, ImageExamples
from pipelines.vision.transforms import eval_transforms, train_transforms
from shared.datamodule import SplitDataModule
from shared.feature_cache import EXAMPLE_KEYS, example_key
from shared.memory_format import batch_to_channels_last

FLOAT32_BYTES = 4


class TransformedImages(torch.utils.data.Dataset):
    """One split's images through `transform`, precomputed once when `cache` is set."""

    def __init__(
        self, examples: ImageExamples, transform: Compose, cache: bool, random: bool = False
    ) -> None:
        self.images = examples.images
        self.labels = torch.as_tensor(np.asarray(examples.labels))
        # Named `transform` so MONAI's worker_init_fn gives each loader worker its own seed.
        self.transform = transform
        self.random = random
        self.cached = torch.stack([transform(image) for image in self.images]) if cache else None
        self.keys: torch.Tensor | None = None
        self.keyed = False

    def serve_example_keys(self) -> None:
        """Tag each example with the digest of its transformed image (not for random splits)."""
        if self.random or self.keyed:
            return
        self.keyed = True
        if self.cached is not None:
            self.keys = torch.stack([example_key(image) for image in self.cached])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.cached is not None:
            inputs = self.cached[index]
        else:
            inputs = self.transform(self.images[index])
        item = {"inputs": inputs, "labels": self.labels[index]}
        if self.keyed:
            item[EXAMPLE_KEYS] = self.keys[index] if self.keys is not None else example_key(inputs)
        return item


class ImageClassificationDataModule(SplitDataModule):
    """Serves train (already subsampled), validation and test splits of an image dataset.

    `mean` and `std` are the backbone's per-channel normalisation on the [0, 1] pixel scale;
    `seed` seeds the augmentation in the main process (MONAI reseeds each loader worker);
    `max_cache_bytes` bounds the float32 tensors of one split kept in memory; `channels_last`
    lays out each batch's images channels-last on the device.
    """

    def __init__(
        self,
        splits: ImageClassificationSplits,
        *,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        augment: bool,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
        max_cache_bytes: int = 2 * 2**30,
        channels_last: bool = False,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            worker_init_fn=worker_init_fn,
        )
        self.splits = splits
        self.image_size = image_size
        self.mean = list(mean)
        self.std = list(std)
        self.augment = augment
        self.seed = seed
        self.max_cache_bytes = max_cache_bytes
        self.channels_last = channels_last
        self.example_keys = False

    def serve_example_keys(self) -> None:
        """Add `example_keys` to the batches of every deterministic split (see the module doc)."""
        self.example_keys = True
        for dataset in self.datasets.values():
            dataset.serve_example_keys()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if self.channels_last:
            return {**batch, "inputs": batch_to_channels_last(batch["inputs"])}
        return batch

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for split in SPLITS:
            examples = getattr(self.splits, split)
            channels = examples.images.shape[-1]
            random = split == "train" and self.augment
            if random:
                transform = train_transforms(
                    self.image_size,
                    self.mean,
                    self.std,
                    augment=True,
                    channels=channels,
                    flip=self.splits.flip_preserves_labels,
                )
                transform.set_random_state(seed=self.seed)
            else:
                transform = eval_transforms(self.image_size, self.mean, self.std, channels=channels)
            size = len(examples) * 3 * self.image_size**2 * FLOAT32_BYTES
            cache = not random and size <= self.max_cache_bytes
            self.datasets[split] = TransformedImages(examples, transform, cache, random)
            if self.example_keys:
                self.datasets[split].serve_example_keys()
