"""Wav clips read into checked 16 kHz mono waveforms: the one place the audio sources open files.

Every source (fsdd, espeak_digits, asterisk_digits, wav_folder) reads through `read_clips`, so
each gets the same checks (readable, mono, non-empty, short enough, at the expected rate) with
errors naming the file, the same lenient mode (bad files skipped and reported, never silently)
and the same resampling to `SAMPLE_RATE`, what Whisper expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

SAMPLE_RATE = 16000
# The labels every digit dataset shares, so a model trained on one is tested on another as it is.
DIGITS = tuple(str(digit) for digit in range(10))
SKIP_HINT = "; set data.options.lenient=true to skip such files."


@dataclass(frozen=True)
class AudioExamples:
    """Mono float32 waveforms at `SAMPLE_RATE`, their (N,) int64 class ids and speakers.

    `files` names where each clip came from, so later errors (e.g. a clip longer than the
    feature window) can say which one; it may be left empty for synthetic examples.
    """

    waveforms: list[np.ndarray]
    labels: np.ndarray
    speakers: list[str]
    files: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.labels.dtype != np.int64 or self.labels.shape != (len(self.waveforms),):
            raise ValueError(
                f"labels must be (N,) int64 for {len(self.waveforms)} waveforms, got shape "
                f"{self.labels.shape} and dtype {self.labels.dtype}."
            )
        if len(self.speakers) != len(self.waveforms):
            raise ValueError(f"{len(self.waveforms)} waveforms but {len(self.speakers)} speakers.")
        if self.files and len(self.files) != len(self.waveforms):
            raise ValueError(f"{len(self.waveforms)} waveforms but {len(self.files)} files.")
        for index, waveform in enumerate(self.waveforms):
            if waveform.ndim != 1 or waveform.dtype != np.float32:
                raise ValueError(
                    f"waveform {index} ({self.name(index)}) must be mono (T,) float32, got shape "
                    f"{waveform.shape} and dtype {waveform.dtype}."
                )

    def __len__(self) -> int:
        return len(self.labels)

    def name(self, index: int) -> str:
        """The file clip `index` came from, or `clip <index>` where no files are recorded."""
        return self.files[index] if self.files else f"clip {index}"

    def subset(self, indices: Sequence[int] | np.ndarray) -> AudioExamples:
        """The examples at `indices`, e.g. from `shared.low_data.subsample_indices`."""
        indices = [int(index) for index in np.asarray(indices).reshape(-1)]
        return AudioExamples(
            [self.waveforms[index] for index in indices],
            self.labels[indices] if indices else np.zeros(0, dtype=np.int64),
            [self.speakers[index] for index in indices],
            [self.files[index] for index in indices] if self.files else [],
        )


@dataclass(frozen=True)
class AudioClassificationSplits:
    """A dataset split for training, model selection and the final test.

    `skipped` maps each file left out under `data.options.lenient=true` to the reason, so a
    lenient run reports how much it dropped; `dataclasses.replace(splits, train=...)` keeps it.
    """

    train: AudioExamples
    val: AudioExamples
    test: AudioExamples
    label_names: list[str]
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Clip:
    """A labelled wav file still to be read."""

    path: Path
    label: int
    speaker: str


def read_clips(
    clips: Sequence[Clip], max_seconds: float, lenient: bool, sample_rate: int | None = None
) -> tuple[AudioExamples, dict[str, str]]:
    """Read and resample `clips` in order; return the examples and the skipped files' reasons.

    Args:
        sample_rate: the rate every file must have, or None to accept any rate.
        lenient: skip a bad file (recording why) instead of raising the error naming it.
    """
    waveforms, rates, kept, skipped = [], [], [], {}
    for clip in clips:
        try:
            waveform, rate = read_wav(clip.path, max_seconds, sample_rate)
        except ValueError as error:
            if not lenient:
                raise
            skipped[str(clip.path)] = str(error)
            continue
        waveforms.append(waveform)
        rates.append(rate)
        kept.append(clip)
    examples = AudioExamples(
        resample_each(waveforms, rates),
        np.asarray([clip.label for clip in kept], dtype=np.int64),
        [clip.speaker for clip in kept],
        [str(clip.path) for clip in kept],
    )
    return examples, skipped


def require_some_clips(
    name: str, where: Path, examples: AudioExamples, skipped: dict[str, str]
) -> None:
    """Fail when lenient reading skipped every file, rather than train on nothing."""
    if len(examples) == 0:
        raise ValueError(
            f"data.name={name!r}: all {len(skipped)} files in {where} are bad and were skipped; "
            f"first: {next(iter(skipped.items()), None)}."
        )


def read_wav(
    path: Path, max_seconds: float, sample_rate: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a mono wav, checking it is readable, non-empty, short enough and (if given) at rate.

    Returns:
        The float32 waveform in [-1, 1] and its sample rate.
    """
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, EOFError) as error:  # LibsndfileError: RuntimeError
        raise ValueError(
            f"{path} cannot be read as a wav file ({error}); it is truncated or corrupt" + SKIP_HINT
        ) from error
    if sample_rate is not None and rate != sample_rate:
        raise ValueError(f"{path} has sample rate {rate} Hz; expected {sample_rate} Hz" + SKIP_HINT)
    if audio.shape[1] != 1:
        raise ValueError(f"{path} has {audio.shape[1]} channels; expected mono" + SKIP_HINT)
    if audio.shape[0] == 0:
        raise ValueError(f"{path} holds no samples" + SKIP_HINT)
    seconds = audio.shape[0] / rate
    if seconds > max_seconds:
        raise ValueError(
            f"{path} lasts {seconds:.3f} s, longer than data.options.max_seconds={max_seconds}; "
            "raise data.options.max_seconds (and the feature window) to keep it" + SKIP_HINT
        )
    return np.ascontiguousarray(audio[:, 0]), rate


def resample_each(waveforms: Sequence[np.ndarray], rates: Sequence[int]) -> list[np.ndarray]:
    """Waveforms of mixed sample rates (`rates[i]` for `waveforms[i]`), all at `SAMPLE_RATE`."""
    resampled: list[np.ndarray] = list(waveforms)
    for rate in sorted(set(rates)):
        indices = [index for index, clip_rate in enumerate(rates) if clip_rate == rate]
        converted = resample([waveforms[index] for index in indices], rate)
        for index, waveform in zip(indices, converted, strict=True):
            resampled[index] = waveform
    return resampled


def resample(waveforms: Sequence[np.ndarray], rate: int) -> list[np.ndarray]:
    """`torchaudio.functional.resample` of mono float32 waveforms from `rate` to `SAMPLE_RATE`.

    Clips are zero-padded to whole seconds and resampled a batch per length, then trimmed back:
    the result equals resampling each clip alone (resample pads with zeros itself), but one
    convolution per length instead of one per clip; 3000 small multi-threaded calls took ~40 s
    on a busy 2-core machine, the batches take about one.
    """
    if rate == SAMPLE_RATE:
        return list(waveforms)
    by_seconds: dict[int, list[int]] = {}
    for index, waveform in enumerate(waveforms):
        by_seconds.setdefault(-(-len(waveform) // rate), []).append(index)
    resampled: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(waveforms)
    for seconds, indices in by_seconds.items():
        batch = np.zeros((len(indices), seconds * rate), dtype=np.float32)
        for row, index in enumerate(indices):
            batch[row, : len(waveforms[index])] = waveforms[index]
        output = torchaudio.functional.resample(torch.from_numpy(batch), rate, SAMPLE_RATE)
        for row, index in enumerate(indices):
            length = -(-len(waveforms[index]) * SAMPLE_RATE // rate)
            resampled[index] = output[row, :length].numpy().copy()
    return resampled
