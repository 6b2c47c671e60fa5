"""Tokenised text splits as Lightning data loaders, padded per batch.

With `bucket_by_length`, batches are drawn from `shared.length_buckets`: seeded, every example
once per epoch, each batch of similar lengths, so little of a padded batch is padding (training
order still changes every epoch; evaluation batches are sorted by length, so test predictions
come in that order, each with its label). After `serve_example_keys()` (called when the model has
a frozen prefix, `shared.fast_classifier`), examples also carry `example_keys`: a digest of
their token ids, under which the prefix's features are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from pipelines.clinical_text.datasets import TextClassificationSplits, TextExamples
from shared.datamodule import SplitDataModule
from shared.feature_cache import EXAMPLE_KEYS, example_key
from shared.length_buckets import LengthBucketBatchSampler, padding_share, plain_batches

SPLITS = ("train", "val", "test")


class TokenizedExamples(torch.utils.data.Dataset):
    """Texts tokenised once up front, so epochs after the first pay nothing for it."""

    def __init__(self, examples: TextExamples, tokenizer, max_length: int) -> None:
        self.encodings = tokenizer(examples.texts, truncation=True, max_length=max_length)
        self.labels = torch.as_tensor(np.asarray(examples.labels))
        self.lengths = [len(ids) for ids in self.encodings["input_ids"]]
        self.keys: torch.Tensor | None = None

    def serve_example_keys(self) -> None:
        """Tag each example with the digest of its token ids (and token types)."""
        if self.keys is None:
            names = [name for name in ("input_ids", "token_type_ids") if name in self.encodings]
            self.keys = torch.stack(
                [
                    example_key(*(np.asarray(self.encodings[name][index]) for name in names))
                    for index in range(len(self.labels))
                ]
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        features = {key: values[index] for key, values in self.encodings.items()}
        item = {"features": features, "label": self.labels[index]}
        if self.keys is not None:
            item[EXAMPLE_KEYS] = self.keys[index]
        return item


class TextClassificationDataModule(SplitDataModule):
    """Serves train (already subsampled), validation and test splits of a text dataset.

    `bucket_by_length` batches examples of similar length (`seed` seeds the batches);
    `cross_domain` maps other datasets' names to their test examples, served as further test
    sets after "test".
    """

    def __init__(
        self,
        splits: TextClassificationSplits,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
        bucket_by_length: bool = False,
        seed: int = 0,
        cross_domain: Mapping[str, TextExamples] | None = None,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            collate_fn=self.collate,
            cross_domain=list(cross_domain or {}),
        )
        self.splits = splits
        self.cross_domain_examples = dict(cross_domain or {})
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.bucket_by_length = bucket_by_length
        self.seed = seed
        self.example_keys = False

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        named = {split: getattr(self.splits, split) for split in SPLITS}
        for split, examples in (named | self.cross_domain_examples).items():
            self.datasets[split] = TokenizedExamples(examples, self.tokenizer, self.max_length)
            if self.example_keys:
                self.datasets[split].serve_example_keys()

    def serve_example_keys(self) -> None:
        """Add `example_keys` to every batch (see the module doc)."""
        self.example_keys = True
        for dataset in self.datasets.values():
            dataset.serve_example_keys()

    def batch_sampler(self, split: str, batch_size: int, shuffle: bool) -> LengthBucketBatchSampler:
        lengths = self.datasets[split].lengths
        return LengthBucketBatchSampler(lengths, batch_size, seed=self.seed, shuffle=shuffle)

    def loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        if not self.bucket_by_length:
            return super().loader(split, batch_size, shuffle)
        return DataLoader(
            self.datasets[split],
            batch_sampler=self.batch_sampler(split, batch_size, shuffle),
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
        )

    def padding_share(self, split: str = "train", *, bucketed: bool | None = None) -> float:
        """The share of padding in `split`'s batches of one epoch (training batch size for
        train, else the evaluation batch size); `bucketed` defaults to the module's setting."""
        bucketed = self.bucket_by_length if bucketed is None else bucketed
        train = split == "train"
        size = self.batch_size if train else self.eval_batch_size
        lengths = self.datasets[split].lengths
        if bucketed:
            batches = self.batch_sampler(split, size, shuffle=train).batches()
        else:
            batches = plain_batches(len(lengths), size, seed=self.seed if train else None)
        return padding_share(lengths, batches)

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = self.tokenizer.pad([item["features"] for item in items], return_tensors="pt")
        batch = {"inputs": dict(inputs), "labels": torch.stack([item["label"] for item in items])}
        if EXAMPLE_KEYS in items[0]:
            batch[EXAMPLE_KEYS] = torch.stack([item[EXAMPLE_KEYS] for item in items])
        return batch
