"""Tokenised text splits as Lightning data loaders, padded per batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from pipelines.clinical_text.datasets import TextClassificationSplits, TextExamples
from shared.datamodule import SplitDataModule


class TokenizedExamples(torch.utils.data.Dataset):
    """Texts tokenised once up front, so epochs after the first pay nothing for it."""

    def __init__(self, examples: TextExamples, tokenizer, max_length: int) -> None:
        self.encodings = tokenizer(examples.texts, truncation=True, max_length=max_length)
        self.labels = torch.as_tensor(np.asarray(examples.labels))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        features = {key: values[index] for key, values in self.encodings.items()}
        return {"features": features, "label": self.labels[index]}


class TextClassificationDataModule(SplitDataModule):
    """Serves train (already subsampled), validation and test splits of a text dataset."""

    def __init__(
        self,
        splits: TextClassificationSplits,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            collate_fn=self.collate,
        )
        self.splits = splits
        self.tokenizer = tokenizer
        self.max_length = max_length

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for split in ("train", "val", "test"):
            examples = getattr(self.splits, split)
            self.datasets[split] = TokenizedExamples(examples, self.tokenizer, self.max_length)

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = self.tokenizer.pad([item["features"] for item in items], return_tensors="pt")
        return {"inputs": dict(inputs), "labels": torch.stack([item["label"] for item in items])}
