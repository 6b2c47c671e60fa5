"""Tests for shared.low_data: stratified, seeded, k-shot and multilabel subsampling."""

import numpy as np
import pytest

from shared.low_data import EmptyClassError, subsample_indices


def _multiclass_labels(counts: list[int]) -> np.ndarray:
    labels = np.concatenate([np.full(count, class_id) for class_id, count in enumerate(counts)])
    return np.random.default_rng(123).permutation(labels).astype(np.int64)


def _multilabel_labels(num_examples: int = 400, rates=(0.5, 0.2, 0.05)) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.random((num_examples, len(rates))) < np.array(rates)).astype(np.int64)


def test_no_fraction_and_no_k_shot_keeps_every_index():
    labels = _multiclass_labels([5, 3])
    np.testing.assert_array_equal(subsample_indices(labels), np.arange(8))


def test_fraction_is_stratified_per_class():
    labels = _multiclass_labels([100, 50, 10])
    indices = subsample_indices(labels, fraction=0.2, seed=0)
    assert np.bincount(labels[indices]).tolist() == [20, 10, 2]
    assert indices.dtype == np.int64
    assert np.all(np.diff(indices) > 0), "indices must be sorted and unique"


def test_fraction_keeps_at_least_one_example_of_every_class():
    labels = _multiclass_labels([200, 2])
    indices = subsample_indices(labels, fraction=0.1, seed=0)
    assert np.bincount(labels[indices]).tolist() == [20, 1]


def test_fraction_one_keeps_everything():
    labels = _multiclass_labels([7, 4])
    np.testing.assert_array_equal(subsample_indices(labels, fraction=1.0), np.arange(11))


def test_k_shot_takes_exactly_k_per_class():
    labels = _multiclass_labels([30, 12, 8])
    indices = subsample_indices(labels, k_shot=8, seed=3)
    assert np.bincount(labels[indices]).tolist() == [8, 8, 8]


def test_k_shot_names_the_class_with_too_few_examples():
    labels = _multiclass_labels([30, 3])
    with pytest.raises(ValueError, match=r"data\.k_shot=5.*'pneumonia' has only 3"):
        subsample_indices(labels, k_shot=5, label_names=["normal", "pneumonia"])


def test_same_seed_same_indices_other_seed_other_indices():
    labels = _multiclass_labels([100, 60])
    first = subsample_indices(labels, fraction=0.3, seed=11)
    np.testing.assert_array_equal(first, subsample_indices(labels, fraction=0.3, seed=11))
    assert not np.array_equal(first, subsample_indices(labels, fraction=0.3, seed=12))
    shots = subsample_indices(labels, k_shot=4, seed=11)
    np.testing.assert_array_equal(shots, subsample_indices(labels, k_shot=4, seed=11))
    assert not np.array_equal(shots, subsample_indices(labels, k_shot=4, seed=12))


def test_class_absent_from_training_split_raises_empty_class_error_naming_it():
    labels = _multiclass_labels([10, 10])
    with pytest.raises(EmptyClassError, match=r"data\.fraction=0\.5.*'rare'.*whole training split"):
        subsample_indices(labels, fraction=0.5, label_names=["a", "b", "rare"])
    with pytest.raises(EmptyClassError, match=r"data\.k_shot=2.*'rare'"):
        subsample_indices(labels, k_shot=2, label_names=["a", "b", "rare"])


def test_multilabel_fraction_is_a_seeded_random_subset():
    labels = _multilabel_labels()
    indices = subsample_indices(labels, fraction=0.5, seed=1)
    assert len(indices) == 200
    np.testing.assert_array_equal(indices, subsample_indices(labels, fraction=0.5, seed=1))
    assert not np.array_equal(indices, subsample_indices(labels, fraction=0.5, seed=2))


def test_multilabel_fraction_without_positives_raises_and_suggests_larger_fraction():
    labels = np.zeros((100, 2), dtype=np.int64)
    labels[:, 0] = 1
    labels[0, 1] = 1  # a single positive for "nodule": a 5 % subset almost never holds it
    seeds_with_error = 0
    for seed in range(20):
        try:
            indices = subsample_indices(
                labels, fraction=0.05, seed=seed, label_names=["effusion", "nodule"]
            )
        except EmptyClassError as error:
            seeds_with_error += 1
            assert "'nodule'" in str(error)
            assert "larger data.fraction" in str(error)
        else:
            assert 0 in indices
    assert seeds_with_error > 0


def test_multilabel_k_shot_gives_every_label_at_least_k_positives():
    labels = _multilabel_labels()
    indices = subsample_indices(labels, k_shot=5, seed=0)
    positives = labels[indices].sum(axis=0)
    assert (positives >= 5).all()
    assert len(indices) < len(labels) // 4, "greedy selection should stay small"
    np.testing.assert_array_equal(indices, subsample_indices(labels, k_shot=5, seed=0))
    assert not np.array_equal(indices, subsample_indices(labels, k_shot=5, seed=1))


def test_multilabel_k_shot_names_the_label_with_too_few_positives():
    labels = _multilabel_labels(num_examples=40, rates=(0.5, 0.05))
    rare = int(labels[:, 1].sum())
    with pytest.raises(ValueError, match=rf"label 'nodule' has only {rare} positive"):
        subsample_indices(labels, k_shot=rare + 1, label_names=["effusion", "nodule"])


def test_multilabel_k_shot_with_a_label_never_positive_raises_empty_class_error():
    labels = np.zeros((20, 2), dtype=np.int64)
    labels[:10, 0] = 1
    with pytest.raises(EmptyClassError, match=r"data\.k_shot=2.*'nodule'"):
        subsample_indices(labels, k_shot=2, label_names=["effusion", "nodule"])


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"fraction": 0.0}, "data.fraction"),
        ({"fraction": 1.5}, "data.fraction"),
        ({"fraction": True}, "data.fraction"),
        ({"k_shot": 0}, "data.k_shot"),
        ({"k_shot": 2.5}, "data.k_shot"),
        ({"fraction": 0.5, "k_shot": 2}, "data.k_shot"),
    ],
)
def test_invalid_options_name_the_field(options, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        subsample_indices(_multiclass_labels([5, 5]), **options)


def test_invalid_labels_are_rejected():
    with pytest.raises(ValueError, match="only 0 and 1"):
        subsample_indices(np.array([[0, 2], [1, 0]]), fraction=0.5)
    with pytest.raises(ValueError, match="label_names has 1 names"):
        subsample_indices(np.array([0, 1, 1]), fraction=0.5, label_names=["a"])


def test_empty_class_error_is_a_value_error():
    assert issubclass(EmptyClassError, ValueError)
