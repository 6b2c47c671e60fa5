"""Tests for the audio data module: Whisper log-mels or wav2vec2 waveforms of a fixed window,
cached once."""

import numpy as np
import pytest
import torch
from tiny_models import tiny_random_wav2vec2_classifier
from transformers import ASTFeatureExtractor, Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

from pipelines.speech.datamodule import AudioClassificationDataModule
from pipelines.speech.datasets import SAMPLE_RATE, AudioClassificationSplits, AudioExamples


def _examples(count: int, seconds: float = 0.5) -> AudioExamples:
    rng = np.random.default_rng(count)
    waveforms = [
        (0.1 * rng.standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)
        for _ in range(count)
    ]
    return AudioExamples(
        waveforms,
        np.arange(count, dtype=np.int64) % 10,
        ["s"] * count,
        [f"f{i}.wav" for i in range(count)],
    )


def _splits(train: AudioExamples | None = None) -> AudioClassificationSplits:
    return AudioClassificationSplits(
        train or _examples(6), _examples(3), _examples(5), [str(digit) for digit in range(10)]
    )


def _module(splits, window_seconds: float = 1.0, extractor=None) -> AudioClassificationDataModule:
    return AudioClassificationDataModule(
        splits,
        extractor or WhisperFeatureExtractor(feature_size=80),
        window_seconds=window_seconds,
        batch_size=4,
        eval_batch_size=2,
    )


def test_batches_are_whisper_log_mels_of_the_window():
    module = _module(_splits())
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"inputs", "labels"} and set(batch["inputs"]) == {"input_features"}
    assert batch["inputs"]["input_features"].shape == (4, 80, 100)
    assert batch["inputs"]["input_features"].dtype == torch.float32
    assert batch["labels"].dtype == torch.int64 and batch["labels"].shape == (4,)
    test = next(iter(module.test_dataloader()))
    assert test["inputs"]["input_features"].shape == (2, 80, 100)
    assert [len(module.datasets[split]) for split in ("train", "val", "test")] == [6, 3, 5]


def test_features_are_cached_once_and_match_the_extractor():
    module = _module(_splits())
    module.setup("fit")
    cached = module.datasets["val"].inputs["input_features"]
    module.setup("test")
    assert module.datasets["val"].inputs["input_features"] is cached
    waveform = np.pad(module.splits.val.waveforms[0], (0, SAMPLE_RATE // 2))
    expected = WhisperFeatureExtractor(feature_size=80)(
        waveform, sampling_rate=SAMPLE_RATE, padding=False, return_tensors="np"
    )["input_features"][0]
    np.testing.assert_allclose(cached[0].numpy(), expected, atol=1e-5)


def test_clip_longer_than_the_window_is_named():
    module = _module(_splits(train=_examples(2, seconds=1.5)))
    with pytest.raises(ValueError, match=r"train clip f0\.wav .*window_seconds"):
        module.setup("fit")


def test_window_shorter_than_a_frame_is_rejected():
    with pytest.raises(ValueError, match="window_seconds"):
        _module(_splits(), window_seconds=0.001)


def test_wav2vec2_batches_are_waveforms_of_the_window_the_model_takes():
    module = _module(_splits(), window_seconds=1.0, extractor=Wav2Vec2FeatureExtractor())
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch["inputs"]) == {"input_values"}
    assert batch["inputs"]["input_values"].shape == (4, SAMPLE_RATE)
    assert batch["inputs"]["input_values"].dtype == torch.float32
    assert tiny_random_wav2vec2_classifier()(**batch["inputs"]).logits.shape == (4, 3)


def test_waveforms_are_the_clips_zero_padded_with_their_attention_mask():
    extractor = Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)
    module = _module(_splits(), window_seconds=1.0, extractor=extractor)
    module.setup("fit")
    cached = module.datasets["val"].inputs
    clip = module.splits.val.waveforms[0]
    np.testing.assert_array_equal(cached["input_values"][0, : len(clip)].numpy(), clip)
    assert not cached["input_values"][:, len(clip) :].any()
    assert cached["attention_mask"].dtype == torch.int64
    assert cached["attention_mask"].sum(dim=1).tolist() == [len(clip)] * 3
    assert set(next(iter(module.val_dataloader()))["inputs"]) == {"input_values", "attention_mask"}


def test_wav2vec2_clip_longer_than_the_window_is_named():
    splits = _splits(train=_examples(2, seconds=1.5))
    module = _module(splits, extractor=Wav2Vec2FeatureExtractor())
    with pytest.raises(ValueError, match=r"train clip f0\.wav .*window_seconds"):
        module.setup("fit")


def test_extractor_of_neither_log_mels_nor_waveforms_is_rejected():
    module = _module(_splits(), extractor=ASTFeatureExtractor())
    with pytest.raises(ValueError, match=r"expected input_values of \(16000,\).*raw 16 kHz"):
        module.setup("fit")
