"""MFCC statistics + logistic regression: the non-neural baseline reported beside every speech run.

A spoken-word result means little without a cheap reference: the mean and standard deviation of
each mel-frequency cepstral coefficient over a clip, with a linear classifier, is the classic
keyword-spotting baseline and fits in seconds on a CPU. It sees the same training clips as the
run (after low-data subsampling) and is scored on the same test split with the same metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torchaudio

from pipelines.speech.audio_io import SAMPLE_RATE, AudioExamples
from shared.linear_baseline import multiclass_probabilities, scaled_logistic_regression
from shared.metrics import classification_metrics

COEFFICIENTS = 20


def mfcc_statistics(waveforms: Sequence[np.ndarray]) -> np.ndarray:
    """(clips, 2 x COEFFICIENTS): each coefficient's mean and standard deviation over the clip's
    frames (25 ms windows, 10 ms hop), so clips of any length give the same features."""
    transform = torchaudio.transforms.MFCC(
        sample_rate=SAMPLE_RATE,
        n_mfcc=COEFFICIENTS,
        melkwargs={"n_fft": 400, "hop_length": 160, "n_mels": 40},
    )
    rows = []
    with torch.no_grad():
        for waveform in waveforms:
            frames = transform(torch.from_numpy(waveform))
            rows.append(torch.cat([frames.mean(dim=1), frames.std(dim=1, correction=0)]))
    return torch.stack(rows).numpy() if rows else np.zeros((0, 2 * COEFFICIENTS))


def mfcc_logistic_regression_baseline(
    train: AudioExamples, test: AudioExamples, *, label_names: Sequence[str], seed: int = 0
) -> dict[str, float | dict[str, float]]:
    """Fit standardised MFCC statistics + logistic regression on `train`, score `test`.

    Returns:
        `shared.metrics.classification_metrics` of the test predictions.
    """
    probs = multiclass_probabilities(
        scaled_logistic_regression(seed),
        mfcc_statistics(train.waveforms),
        train.labels,
        mfcc_statistics(test.waveforms),
        len(label_names),
    )
    return classification_metrics(probs, test.labels, multilabel=False, label_names=label_names)
