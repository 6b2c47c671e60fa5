"""Batches of similar length, so padded sequence batches carry little padding.

A batch of token sequences is padded to its longest member, and the model computes over the
padding too. `LengthBucketBatchSampler` shuffles all examples with a seeded generator, cuts the
shuffled order into pools of `pool_batches` batches, sorts each pool by length and cuts it into
batches, then shuffles the order of the batches. Every example is in exactly one batch per epoch;
batches still mix examples from the whole split (a pool is a random sample of it), and the
order changes each epoch (the generator is seeded with `seed` and the epoch: Lightning sets it
through `set_epoch` before each epoch, so a resumed run sees the same batches; without Lightning
each pass over the sampler starts the next epoch). This is the scheme of fairseq and of
transformers' `LengthGroupedSampler`. Evaluation batches (`shuffle=False`) are cut from the set
sorted longest first, so a batch too large for memory fails at once, not at the end.

`padding_share` measures what fraction of a padded batch's tokens are padding; `plain_batches`
are the batches without bucketing (file order, or one seeded shuffle), to compare against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

DEFAULT_POOL_BATCHES = 50


class EpochSetter:
    """Lightning calls `set_epoch` on `batch_sampler.sampler`, not on a batch sampler itself."""

    def __init__(self, owner: LengthBucketBatchSampler) -> None:
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Seeded batches of indices of similar `lengths` (see the module doc).

    Args:
        lengths: each example's length (tokens after truncation).
        batch_size: examples per batch; the last batch of a pool may be smaller.
        seed: seeds the shuffles, together with the epoch.
        shuffle: False gives a fixed order sorted by length, longest first (for evaluation).
        pool_batches: batches per sorted pool; larger pools pad less and mix less.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        pool_batches: int = DEFAULT_POOL_BATCHES,
    ) -> None:
        if batch_size < 1 or pool_batches < 1:
            raise ValueError(
                f"batch_size and pool_batches must be >= 1, got {batch_size} and {pool_batches}"
            )
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.pool_batches = pool_batches
        self.epoch = 0
        self.sampler = EpochSetter(self)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This epoch's batches, in the order they are served."""
        if not self.shuffle:
            return self.cut(np.argsort(-self.lengths, kind="stable"))
        generator = np.random.default_rng([self.seed, self.epoch])
        order = generator.permutation(len(self.lengths))
        pool_size = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool_size):
            pool = order[start : start + pool_size]
            batches += self.cut(pool[np.argsort(self.lengths[pool], kind="stable")])
        return [batches[i] for i in generator.permutation(len(batches))]

    def cut(self, order: np.ndarray) -> list[list[int]]:
        """`order` cut into consecutive batches of `batch_size` (the last may be smaller)."""
        size = self.batch_size
        return [order[i : i + size].tolist() for i in range(0, len(order), size)]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches()
        self.epoch += 1
        yield from batches

    def __len__(self) -> int:
        if not self.shuffle:
            return -(-len(self.lengths) // self.batch_size)
        full_pools, rest = divmod(len(self.lengths), self.batch_size * self.pool_batches)
        return full_pools * self.pool_batches + -(-rest // self.batch_size)


def plain_batches(size: int, batch_size: int, seed: int | None = None) -> list[list[int]]:
    """Batches of `size` examples without bucketing: in file order, or shuffled with `seed`."""
    order = np.arange(size) if seed is None else np.random.default_rng(seed).permutation(size)
    return [order[i : i + batch_size].tolist() for i in range(0, size, batch_size)]


def padding_share(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Padding tokens over all tokens, when each batch is padded to its longest member."""
    lengths = np.asarray(lengths)
    padded = real = 0
    for batch in batches:
        members = lengths[list(batch)]
        padded += members.max() * len(members)
        real += members.sum()
    return float(1 - real / padded) if padded else 0.0
