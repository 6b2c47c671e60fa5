"""Train/val/test loaders over prepared datasets: the part every domain's data module shares.

A domain's data module only builds its three datasets in `setup` (tokenised texts, transformed
images, log-mel features); this base turns them into shuffled training and ordered evaluation
loaders with the configured batch sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning
from torch.utils.data import DataLoader, Dataset


class SplitDataModule(lightning.LightningDataModule):
    """Serves `self.datasets["train" | "val" | "test"]`, which subclasses fill in `setup`.

    It owns the ordered list of test sets, known before `setup` so a run can check it before
    training: "test" (in domain), then `cross_domain` (e.g. real speech for a model trained on
    synthetic speech), whose datasets `setup` adds to `self.datasets` under those names.
    """

    def __init__(
        self,
        *,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        worker_init_fn: Callable[[int], None] | None = None,
        cross_domain: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.worker_init_fn = worker_init_fn
        self.cross_domain = list(cross_domain)
        self.datasets: dict[str, Dataset] = {}

    def loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.datasets[split],
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            worker_init_fn=self.worker_init_fn,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", self.eval_batch_size, shuffle=False)

    def test_set_names(self) -> list[str]:
        """ "test", then the cross-domain test sets, in the order `test_dataloader` serves them."""
        return ["test", *self.cross_domain]

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        loaders = [self.loader(name, self.eval_batch_size, False) for name in self.test_set_names()]
        return loaders[0] if len(loaders) == 1 else loaders
