"""Train/val/test indices for the audio sources: speakers held out for test, or stratified.

Validation is always a seeded, stratified share of what is left after the test split, so the
seed never moves a clip into or out of the test set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.low_data import stratified_holdout


def held_out_speaker_mask(
    speakers: Sequence[str], test_speakers: Sequence[str], option: str
) -> np.ndarray:
    """True for the clips of `test_speakers`, after checking each has clips and some remain.

    Args:
        option: the data.options field that named the test speakers, for the errors.
    """
    known = set(speakers)
    missing = sorted(set(test_speakers) - known)
    if missing:
        raise ValueError(
            f"data.options.{option} names {missing}, who have no recordings; speakers "
            f"found: {sorted(known)}."
        )
    if known <= set(test_speakers):
        raise ValueError(
            f"data.options.{option}={list(test_speakers)} holds out every speaker, "
            "leaving none to train on."
        )
    return np.isin(np.asarray(speakers), list(test_speakers))


def stratified_test_mask(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """True for a seeded `test_fraction` of each class (at least one clip per class)."""
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[stratified_holdout(labels, test_fraction, seed)] = True
    return is_test


def split_with_test_mask(
    labels: np.ndarray, is_test: np.ndarray, val_fraction: float, seed: int, split: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices: the masked clips are test, val is carved from the rest.

    Args:
        split: how the test clips were chosen, for the error when one side is empty.
    """
    rest, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    if rest.size == 0 or test.size == 0:
        raise ValueError(
            f"{split} leaves {rest.size} recordings for train/val and {test.size} for test; "
            "both need at least one."
        )
    val = rest[stratified_holdout(labels[rest], val_fraction, seed)]
    return np.setdiff1d(rest, val), val, test
