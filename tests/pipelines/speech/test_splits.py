"""Tests for the split rules: held-out speakers, stratified test clips, val carved from the rest."""

import numpy as np
import pytest

from pipelines.speech.splits import (
    held_out_speaker_mask,
    split_with_test_mask,
    stratified_test_mask,
)


def test_held_out_speakers_are_exactly_the_test_mask():
    speakers = ["ann", "bo", "ann", "cy", "bo"]
    mask = held_out_speaker_mask(speakers, ["bo"], "test_voices")
    assert mask.tolist() == [False, True, False, False, True]
    with pytest.raises(ValueError, match=r"data\.options\.test_voices names \['dee'\]"):
        held_out_speaker_mask(speakers, ["dee"], "test_voices")
    with pytest.raises(ValueError, match="holds out every speaker"):
        held_out_speaker_mask(speakers, ["ann", "bo", "cy"], "test_voices")


def test_stratified_test_mask_takes_a_seeded_share_of_each_class():
    labels = np.repeat(np.arange(3), 10)
    mask = stratified_test_mask(labels, 0.3, seed=0)
    assert np.bincount(labels[mask]).tolist() == [3, 3, 3]
    assert np.array_equal(mask, stratified_test_mask(labels, 0.3, seed=0))
    assert not np.array_equal(mask, stratified_test_mask(labels, 0.3, seed=1))


def test_val_is_carved_from_what_the_test_leaves():
    labels = np.repeat(np.arange(2), 6)
    is_test = np.arange(12) % 6 == 0
    train, val, test = split_with_test_mask(labels, is_test, 0.2, seed=0, split="rule")
    assert test.tolist() == [0, 6]
    assert np.bincount(labels[val]).tolist() == [1, 1]
    assert sorted([*train, *val, *test]) == list(range(12))
    with pytest.raises(ValueError, match="rule leaves 12 recordings for train/val and 0 for test"):
        split_with_test_mask(labels, np.zeros(12, dtype=bool), 0.2, seed=0, split="rule")
