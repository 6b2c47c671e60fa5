"""Audio splits as Lightning data loaders of Whisper log-mel features and int64 labels.

Batches are {"inputs": {"input_features": (B, n_mels, frames) float32}, "labels": (B,) int64},
the keyword arguments a Whisper encoder takes. Every clip is zero-padded to one fixed window
(`window_seconds`, far shorter than Whisper's 30 s, as FSDD's digits last under 2.5 s) and its
features are computed once per split and kept, so later epochs only index them: FSDD's 3000
clips at 80 mels and 2.5 s take about 240 MB. A clip longer than the window is an error, never
silently truncated, since the cut-off part may carry the label.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

from pipelines.speech.datasets import SAMPLE_RATE, SPLITS, AudioClassificationSplits, AudioExamples
from shared.datamodule import SplitDataModule

FEATURE_CHUNK = 256  # clips per feature-extractor call, bounding its float64 intermediates


class LogMelFeatures(torch.utils.data.Dataset):
    """One split's waveforms as precomputed log-mel features with their labels."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        self.features = features
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, dict[str, torch.Tensor] | torch.Tensor]:
        return {"inputs": {"input_features": self.features[index]}, "labels": self.labels[index]}


def log_mel_features(
    examples: AudioExamples,
    feature_extractor: WhisperFeatureExtractor,
    window_samples: int,
    split: str = "",
) -> torch.Tensor:
    """(N, n_mels, window_samples // hop_length) float32 features of clips padded to the window.

    Raises:
        ValueError: a clip is longer than `window_samples` (naming it and the split).
    """
    for index, waveform in enumerate(examples.waveforms):
        if len(waveform) > window_samples:
            raise ValueError(
                f"{split} clip {examples.name(index)} has {len(waveform)} samples "
                f"({len(waveform) / SAMPLE_RATE:.3f} s), longer than the feature window of "
                f"{window_samples} samples ({window_samples / SAMPLE_RATE} s); raise "
                "window_seconds or lower data.options.max_seconds to drop such clips at load time."
            )
    frames = window_samples // feature_extractor.hop_length
    chunks = [torch.zeros(0, feature_extractor.feature_size, frames)]
    for start in range(0, len(examples), FEATURE_CHUNK):
        batch = examples.waveforms[start : start + FEATURE_CHUNK]
        output = feature_extractor(
            batch,
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=window_samples,
            truncation=False,
            return_tensors="np",
        )
        chunks.append(torch.from_numpy(np.asarray(output["input_features"], dtype=np.float32)))
    features = torch.cat(chunks)
    if features.shape[1:] != (feature_extractor.feature_size, frames):
        raise ValueError(
            f"the feature extractor returned {tuple(features.shape[1:])} per clip; expected "
            f"({feature_extractor.feature_size}, {frames}) for a {window_samples}-sample window."
        )
    return features


class AudioClassificationDataModule(SplitDataModule):
    """Serves train (already subsampled), validation and test splits of an audio dataset.

    `feature_extractor` is the backbone's Whisper extractor (80 mels for whisper-tiny);
    `window_seconds` is the fixed clip length every waveform is padded to. `cross_domain` maps
    other datasets' names to their test clips, served as further test sets after "test".
    """

    def __init__(
        self,
        splits: AudioClassificationSplits,
        feature_extractor: WhisperFeatureExtractor,
        *,
        window_seconds: float,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
        cross_domain: Mapping[str, AudioExamples] | None = None,
    ) -> None:
        super().__init__(
            batch_size=batch_size, eval_batch_size=eval_batch_size, num_workers=num_workers
        )
        if feature_extractor.sampling_rate != SAMPLE_RATE:
            raise ValueError(
                f"the feature extractor expects {feature_extractor.sampling_rate} Hz audio; the "
                f"audio datasets are resampled to {SAMPLE_RATE} Hz."
            )
        window_samples = round(window_seconds * SAMPLE_RATE)
        if window_samples < feature_extractor.hop_length:
            raise ValueError(
                f"window_seconds={window_seconds} is shorter than one feature frame "
                f"({feature_extractor.hop_length / SAMPLE_RATE} s)."
            )
        self.splits = splits
        self.cross_domain = dict(cross_domain or {})
        self.feature_extractor = feature_extractor
        self.window_samples = window_samples

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        named = {split: getattr(self.splits, split) for split in SPLITS} | self.cross_domain
        for name, examples in named.items():
            features = log_mel_features(examples, self.feature_extractor, self.window_samples, name)
            labels = torch.as_tensor(np.asarray(examples.labels, dtype=np.int64))
            self.datasets[name] = LogMelFeatures(features, labels)
