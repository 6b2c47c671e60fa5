"""Tests for the MFCC statistics + logistic regression speech baseline."""

import numpy as np
import pytest

from pipelines.speech.audio_io import SAMPLE_RATE, AudioExamples
from pipelines.speech.baseline import (
    COEFFICIENTS,
    mfcc_logistic_regression_baseline,
    mfcc_statistics,
)
from pipelines.speech.datasets import load_audio_dataset

TONES = (300.0, 900.0, 2500.0)


def tone_clips(class_ids: list[int], seed: int) -> AudioExamples:
    """Class k is a tone at TONES[k] with noise, of a random length and phase."""
    rng = np.random.default_rng(seed)
    waveforms = []
    for class_id in class_ids:
        time = np.arange(int(rng.uniform(0.3, 0.8) * SAMPLE_RATE)) / SAMPLE_RATE
        tone = np.sin(2 * np.pi * TONES[class_id] * time + rng.uniform(0, 2 * np.pi))
        waveforms.append((0.5 * tone + 0.05 * rng.standard_normal(len(time))).astype(np.float32))
    return AudioExamples(
        waveforms, np.array(class_ids, dtype=np.int64), ["synthetic"] * len(class_ids)
    )


def test_features_have_one_size_whatever_the_clip_length():
    clips = tone_clips([0, 1, 2], seed=0)
    features = mfcc_statistics(clips.waveforms)
    assert features.shape == (3, 2 * COEFFICIENTS)
    assert len({len(w) for w in clips.waveforms}) == 3


def test_tones_are_told_apart_and_an_untrained_class_scores_zero():
    train = tone_clips([0, 1] * 12, seed=1)
    test = tone_clips([0, 1, 2] * 4, seed=2)
    metrics = mfcc_logistic_regression_baseline(train, test, label_names=["low", "mid", "high"])
    assert metrics["auroc_per_class"]["high"] == 0.5, "never trained: constant probability 0"
    assert metrics["accuracy"] == pytest.approx(8 / 12)


def test_fsdd_baseline_is_well_above_chance(data_dir):
    splits = load_audio_dataset("fsdd", data_dir, seed=0)
    metrics = mfcc_logistic_regression_baseline(
        splits.train, splits.test, label_names=splits.label_names
    )
    assert metrics["accuracy"] > 0.5, "chance is 0.1"
    assert set(metrics["auroc_per_class"]) == set(splits.label_names)
