"""Speech encoders with a classification head: Whisper (offline by default) or any Hugging Face
audio encoder, such as wav2vec2, HuBERT or WavLM, for users who are online.

Whisper's encoder is built for 30 s of audio (1500 positions); a spoken digit lasts under 3 s,
so paying for 30 s of padding would make every step ten times dearer. `shorten_window` keeps the
first positions of the (fixed, sinusoidal) position table, so the encoder takes exactly
`window_seconds` of audio. Offline, Whisper tiny.en (the default) and base come converted from
PyPI packages (`pipelines.speech.offline_whisper`). wav2vec2-style encoders read raw waveforms of
any length through convolutions, so they take the window as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import (
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    SequenceFeatureExtractor,
    WhisperForAudioClassification,
)

from pipelines.speech.offline_whisper import PACKAGED_WHISPERS, offline_whisper_folder
from shared.heads import find_head_names

FRAMES_PER_SECOND = 100  # Whisper's log-mel hop is 10 ms
CONVOLUTION_STRIDE = 2  # the encoder's second convolution halves the frames


@dataclass(frozen=True)
class AudioBackbone:
    """A classifier ready for `inject_method`, and the feature extractor its inputs need."""

    model: nn.Module
    feature_extractor: SequenceFeatureExtractor
    head_modules: list[str]
    window_seconds: float


def shorten_window(model: WhisperForAudioClassification, window_seconds: float) -> None:
    """Make the encoder take `window_seconds` of audio instead of 30 s.

    Raises:
        ValueError: naming data.window_seconds when the window is not a whole, even number of
            frames or is longer than the model's.
    """
    frames = window_seconds * FRAMES_PER_SECOND
    positions = int(frames) // CONVOLUTION_STRIDE
    longest = model.config.max_source_positions
    if frames != int(frames) or int(frames) % CONVOLUTION_STRIDE or not 0 < positions <= longest:
        raise ValueError(
            f"data.window_seconds={window_seconds} must be a multiple of 0.02 s between 0.02 and "
            f"{longest * CONVOLUTION_STRIDE / FRAMES_PER_SECOND:g} s"
        )
    table = model.encoder.embed_positions
    shorter = nn.Embedding(positions, table.embedding_dim).to(table.weight.device)
    with torch.no_grad():
        shorter.weight.copy_(table.weight[:positions])
    shorter.weight.requires_grad_(table.weight.requires_grad)
    model.encoder.embed_positions = shorter
    model.config.max_source_positions = positions
    model.encoder.config.max_source_positions = positions
    model.encoder.max_source_positions = positions


def audio_backbone(
    model: nn.Module, feature_extractor: SequenceFeatureExtractor, window_seconds: float
) -> AudioBackbone:
    """Ready an audio classifier for the pipeline, cutting a Whisper encoder to the window."""
    if isinstance(model, WhisperForAudioClassification):
        shorten_window(model, window_seconds)
    return AudioBackbone(model, feature_extractor, find_head_names(model), window_seconds)


def build_audio_classifier(name: str, *, num_labels: int, window_seconds: float) -> AudioBackbone:
    """A pretrained speech encoder with a fresh classification head, for `window_seconds` clips.

    Args:
        name: an offline Whisper (`PACKAGED_WHISPERS`), or a Hugging Face name or folder of any
            audio classifier the Auto classes know (Whisper, wav2vec2, HuBERT, WavLM, ...).

    Raises:
        ValueError: naming model.name when the weights cannot be found or fetched.
    """
    offline = name in PACKAGED_WHISPERS
    path = str(offline_whisper_folder(name)) if offline else name
    try:
        # The Auto classes pick WhisperForAudioClassification for Whisper checkpoints too. A
        # checkpoint that already has a head for other labels gets a fresh one of the right size.
        model = AutoModelForAudioClassification.from_pretrained(
            path, num_labels=num_labels, ignore_mismatched_sizes=True, local_files_only=offline
        )
        feature_extractor = AutoFeatureExtractor.from_pretrained(path, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"model.name={name!r}: cannot load it as an audio classifier ({error}). Offline, use "
            f"one of: {', '.join(PACKAGED_WHISPERS)}; online, any Hugging Face Whisper, wav2vec2, "
            "HuBERT or WavLM name, e.g. facebook/wav2vec2-base."
        ) from error
    return audio_backbone(model, feature_extractor, window_seconds)
