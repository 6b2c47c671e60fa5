"""Length-bucketed batches: seeded, every example once per epoch, less padding than random."""

import numpy as np
import pytest

from shared.length_buckets import LengthBucketBatchSampler, padding_share, plain_batches

LENGTHS = np.random.default_rng(0).integers(5, 500, size=203).tolist()


@pytest.mark.parametrize("batch_size", [1, 7, 16, 300])
@pytest.mark.parametrize("pool_batches", [1, 3, 50])
def test_every_example_is_served_exactly_once_per_epoch(batch_size, pool_batches):
    sampler = LengthBucketBatchSampler(LENGTHS, batch_size, seed=3, pool_batches=pool_batches)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for batch in batches for i in batch) == list(range(len(LENGTHS)))
        assert all(1 <= len(batch) <= batch_size for batch in batches)
        assert len(batches) == len(sampler)


def test_batches_are_seeded_by_seed_and_epoch():
    def epoch_batches(seed: int, epoch: int) -> list[list[int]]:
        sampler = LengthBucketBatchSampler(LENGTHS, 16, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert epoch_batches(0, 0) == epoch_batches(0, 0)
    assert epoch_batches(0, 1) != epoch_batches(0, 0)
    assert epoch_batches(1, 0) != epoch_batches(0, 0)


def test_bucketed_batches_carry_far_less_padding_than_random_ones():
    sampler = LengthBucketBatchSampler(LENGTHS, 16, seed=0)
    shuffled = plain_batches(len(LENGTHS), 16, seed=0)
    random_share, bucketed_share = (
        padding_share(LENGTHS, shuffled),
        padding_share(LENGTHS, list(sampler)),
    )
    assert random_share > 0.4 and bucketed_share < 0.1


def test_evaluation_order_is_fixed_and_sorted_longest_first():
    sampler = LengthBucketBatchSampler(LENGTHS, 16, shuffle=False)
    served = [i for batch in sampler for i in batch]
    assert [LENGTHS[i] for i in served] == sorted(LENGTHS, reverse=True)
    assert sorted(served) == list(range(len(LENGTHS)))
    assert len(sampler) == len(list(sampler)) == -(-len(LENGTHS) // 16)


def test_plain_batches_are_file_order_or_one_seeded_shuffle():
    assert plain_batches(5, 2) == [[0, 1], [2, 3], [4]]
    shuffled = plain_batches(5, 2, seed=1)
    assert shuffled == plain_batches(5, 2, seed=1) != plain_batches(5, 2)
    assert sorted(i for batch in shuffled for i in batch) == list(range(5))


def test_padding_share_counts_padding_over_padded_tokens():
    assert padding_share([2, 4, 4], [[0, 1], [2]]) == pytest.approx(2 / 12)
    assert padding_share([3], []) == 0.0


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="batch_size and pool_batches must be >= 1"):
        LengthBucketBatchSampler(LENGTHS, 0)


def test_each_pass_is_a_new_epoch_unless_the_epoch_is_set():
    sampler = LengthBucketBatchSampler(LENGTHS, 16, seed=0)
    first, second = list(sampler), list(sampler)
    assert first != second
    sampler.sampler.set_epoch(0)  # where Lightning sets it
    assert list(sampler) == first
