"""Audio splits as Lightning data loaders of encoder inputs and int64 labels.

Batches are {"inputs": {...}, "labels": (B,) int64}, the keyword arguments the encoder takes:
Whisper's log-mel `input_features` (B, n_mels, frames) float32, or, for wav2vec2-style encoders
(wav2vec2, HuBERT, WavLM), the waveforms themselves as `input_values` (B, samples) float32, with
an int64 `attention_mask` where their feature extractor gives one. Every clip is zero-padded to
one fixed window (`window_seconds`, far shorter than Whisper's 30 s, as FSDD's digits last under
2.5 s) and its inputs are computed once per split and kept, so later epochs only index them:
FSDD's 3000 clips at 80 mels and 2.5 s take about 240 MB, as waveforms about 480 MB. A clip
longer than the window is an error, never silently truncated, since the cut-off part may carry
the label.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from transformers import BatchFeature, SequenceFeatureExtractor, WhisperFeatureExtractor

from pipelines.speech.datasets import SAMPLE_RATE, SPLITS, AudioClassificationSplits, AudioExamples
from shared.datamodule import SplitDataModule

FEATURE_CHUNK = 256  # clips per feature-extractor call, bounding its float64 intermediates

EncoderInputs = dict[str, torch.Tensor]  # keyword argument of the encoder -> one row per clip


class CachedEncoderInputs(torch.utils.data.Dataset):
    """One split's clips as precomputed encoder inputs with their labels."""

    def __init__(self, inputs: EncoderInputs, labels: torch.Tensor) -> None:
        self.inputs = inputs
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, EncoderInputs | torch.Tensor]:
        inputs = {name: values[index] for name, values in self.inputs.items()}
        return {"inputs": inputs, "labels": self.labels[index]}


def padded_extractions(
    examples: AudioExamples,
    feature_extractor: SequenceFeatureExtractor,
    window_samples: int,
    split: str = "",
) -> list[BatchFeature]:
    """The extractor's numpy outputs, chunk by chunk, for the clips zero-padded to the window.

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
    return [
        feature_extractor(
            examples.waveforms[start : start + FEATURE_CHUNK],
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=window_samples,
            truncation=False,
            return_tensors="np",
        )
        for start in range(0, len(examples), FEATURE_CHUNK)
    ]


def stacked_rows(
    chunks: list[BatchFeature], key: str, row_shape: tuple[int, ...], dtype: type
) -> torch.Tensor:
    """Output `key` of every chunk as one (N, *row_shape) tensor, (0, *row_shape) for no clips.

    Raises:
        ValueError: a chunk lacks `key` or has rows of another shape.
    """
    rows = [np.zeros((0, *row_shape), dtype)]
    for chunk in chunks:
        if key not in chunk or np.shape(chunk[key])[1:] != row_shape:
            found = {name: np.shape(values)[1:] for name, values in chunk.items()}
            raise ValueError(
                f"the feature extractor returned {found} per clip; expected {key} of {row_shape}. "
                "The speech pipeline takes Whisper log-mels or raw 16 kHz waveforms (wav2vec2, "
                "HuBERT, WavLM)."
            )
        rows.append(np.asarray(chunk[key], dtype=dtype))
    return torch.from_numpy(np.concatenate(rows))


def log_mel_inputs(
    examples: AudioExamples,
    feature_extractor: WhisperFeatureExtractor,
    window_samples: int,
    split: str = "",
) -> EncoderInputs:
    """Whisper's `input_features`: (N, n_mels, window_samples // hop_length) float32 log-mels."""
    chunks = padded_extractions(examples, feature_extractor, window_samples, split)
    frames = window_samples // feature_extractor.hop_length
    row_shape = (feature_extractor.feature_size, frames)
    return {"input_features": stacked_rows(chunks, "input_features", row_shape, np.float32)}


def waveform_inputs(
    examples: AudioExamples,
    feature_extractor: SequenceFeatureExtractor,
    window_samples: int,
    split: str = "",
) -> EncoderInputs:
    """wav2vec2-style `input_values`: (N, window_samples) float32 waveforms as the extractor
    normalises them, and its int64 `attention_mask` (1 on real samples) if it gives one."""
    chunks = padded_extractions(examples, feature_extractor, window_samples, split)
    row_shape = (window_samples,)
    inputs = {"input_values": stacked_rows(chunks, "input_values", row_shape, np.float32)}
    if feature_extractor.return_attention_mask:
        inputs["attention_mask"] = stacked_rows(chunks, "attention_mask", row_shape, np.int64)
    return inputs


class AudioClassificationDataModule(SplitDataModule):
    """Serves train (already subsampled), validation and test splits of an audio dataset.

    `feature_extractor` is the backbone's: Whisper's (80 mels for whisper-tiny) or a raw-waveform
    one such as wav2vec2's; `window_seconds` is the fixed clip length every waveform is padded
    to. `cross_domain` maps other datasets' names to their test clips, served as further test
    sets after "test".
    """

    def __init__(
        self,
        splits: AudioClassificationSplits,
        feature_extractor: SequenceFeatureExtractor,
        *,
        window_seconds: float,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
        cross_domain: Mapping[str, AudioExamples] | None = None,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            cross_domain=list(cross_domain or {}),
        )
        if feature_extractor.sampling_rate != SAMPLE_RATE:
            raise ValueError(
                f"the feature extractor expects {feature_extractor.sampling_rate} Hz audio; the "
                f"audio datasets are resampled to {SAMPLE_RATE} Hz."
            )
        window_samples = round(window_seconds * SAMPLE_RATE)
        is_whisper = isinstance(feature_extractor, WhisperFeatureExtractor)
        if is_whisper and window_samples < feature_extractor.hop_length:
            raise ValueError(
                f"window_seconds={window_seconds} is shorter than one feature frame "
                f"({feature_extractor.hop_length / SAMPLE_RATE} s)."
            )
        self.splits = splits
        self.cross_domain_clips = dict(cross_domain or {})
        self.feature_extractor = feature_extractor
        self.window_samples = window_samples
        self.encoder_inputs = log_mel_inputs if is_whisper else waveform_inputs

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        named = {split: getattr(self.splits, split) for split in SPLITS} | self.cross_domain_clips
        for name, examples in named.items():
            inputs = self.encoder_inputs(
                examples, self.feature_extractor, self.window_samples, name
            )
            labels = torch.as_tensor(np.asarray(examples.labels, dtype=np.int64))
            self.datasets[name] = CachedEncoderInputs(inputs, labels)
