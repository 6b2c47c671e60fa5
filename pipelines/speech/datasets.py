"""Readers for the audio classification datasets, each returning train/val/test mono waveforms.

One registry, `AUDIO_DATASETS`, is the single list of dataset names the speech pipeline accepts
(`data.name`). The Free Spoken Digit Dataset (FSDD) is read from
`<data.data_dir>/fsdd/recordings/{digit}_{speaker}_{index}.wav` (CI: `../shared/data`): 3000 mono
8 kHz takes of the digits 0-9 by 6 speakers. Nothing is copied into the repository, and every
reader checks its files and says which file is wrong and why.

Waveforms are float32 in [-1, 1], resampled to `SAMPLE_RATE` (16 kHz, what Whisper expects);
log-mel features belong to the data module (`pipelines.speech.datamodule`). Two splits are
offered: FSDD's own (`official`: takes 0-4 of every digit and speaker are the test set) and a
speaker-held-out one (`speakers`), the harder and more honest test of generalisation.

With `data.options.lenient=true` a bad file (unreadable, empty, wrong rate, too long, badly named)
is skipped instead of stopping the run, but never silently: `AudioClassificationSplits.skipped`
maps each skipped file to the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torchaudio

from shared.low_data import stratified_holdout

SAMPLE_RATE = 16000
SPLITS = ("train", "val", "test")
FSDD_SOURCE = (
    "the Free Spoken Digit Dataset (https://github.com/Jakobovski/free-spoken-digit-dataset, "
    "CC BY-SA 4.0)"
)
FSDD_SAMPLE_RATE = 8000
FSDD_TEST_TAKES = 5  # FSDD's own convention: takes 0-4 of every digit and speaker are test.
FSDD_NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[A-Za-z]+)_(?P<index>[0-9]+)\.wav")


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
class AudioDataset:
    """A registry entry: how to read the dataset, its classes, options and where it comes from.

    `load(name, data_dir, seed, **options)` returns the (train, val, test) examples and the
    skipped files with their reasons.
    """

    load: Callable[..., tuple[AudioExamples, AudioExamples, AudioExamples, dict[str, str]]]
    label_names: tuple[str, ...]
    source: str
    options: Mapping[str, Any] = field(default_factory=dict)


def load_audio_dataset(
    name: str, data_dir: str | Path | None, seed: int = 0, **options: Any
) -> AudioClassificationSplits:
    """Read dataset `name` and split it into train, val (carved with `seed`) and test.

    Args:
        name: a key of `AUDIO_DATASETS` (`data.name`).
        data_dir: folder holding `fsdd/recordings/` (`data.data_dir`).
        seed: seeds the validation split; the test split does not depend on it.
        options: dataset options, see `AUDIO_DATASETS[name].options` for names and defaults.
    """
    dataset = AUDIO_DATASETS.get(name)
    if dataset is None:
        raise ValueError(
            f"data.name={name!r} is not an audio dataset; valid names: {', '.join(AUDIO_DATASETS)}."
        )
    unknown = sorted(set(options) - set(dataset.options))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(f'data.options.{key}' for key in unknown)} for "
            f"data.name={name!r}; valid options: {', '.join(dataset.options) or 'none'}."
        )
    train, val, test, skipped = dataset.load(name, data_dir, seed, **{**dataset.options, **options})
    return AudioClassificationSplits(train, val, test, list(dataset.label_names), skipped)


def _load_fsdd(
    name: str,
    data_dir: str | Path | None,
    seed: int,
    split: str,
    test_speakers: Sequence[str],
    val_fraction: float,
    max_seconds: float,
    lenient: bool,
) -> tuple[AudioExamples, AudioExamples, AudioExamples, dict[str, str]]:
    _check_fsdd_options(split, test_speakers, val_fraction, max_seconds, lenient)
    examples, takes, skipped = _read_fsdd(name, data_dir, max_seconds, lenient)
    if split == "official":
        is_test = takes < FSDD_TEST_TAKES
    else:
        known = set(examples.speakers)
        missing = sorted(set(test_speakers) - known)
        if missing:
            raise ValueError(
                f"data.options.test_speakers names {missing}, who have no recordings; speakers "
                f"found: {sorted(known)}."
            )
        if known <= set(test_speakers):
            raise ValueError(
                f"data.options.test_speakers={list(test_speakers)} holds out every speaker, "
                "leaving none to train on."
            )
        is_test = np.isin(np.asarray(examples.speakers), list(test_speakers))
    rest, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    if rest.size == 0 or test.size == 0:
        raise ValueError(
            f"data.options.split={split!r} leaves {rest.size} recordings for train/val and "
            f"{test.size} for test; both need at least one."
        )
    val = rest[stratified_holdout(examples.labels[rest], val_fraction, seed)]
    train = np.setdiff1d(rest, val)
    return examples.subset(train), examples.subset(val), examples.subset(test), skipped


def _check_fsdd_options(
    split: str,
    test_speakers: Sequence[str],
    val_fraction: float,
    max_seconds: float,
    lenient: bool,
) -> None:
    if split not in ("official", "speakers"):
        raise ValueError(f"data.options.split must be 'official' or 'speakers', got {split!r}.")
    if isinstance(test_speakers, str) or not all(isinstance(s, str) for s in test_speakers):
        raise ValueError(
            f"data.options.test_speakers must be a list of speaker names, got {test_speakers!r}."
        )
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 < val_fraction < 1
    ):
        raise ValueError(f"data.options.val_fraction must be in (0, 1), got {val_fraction!r}.")
    if (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or max_seconds <= 0
    ):
        raise ValueError(
            f"data.options.max_seconds must be a positive number, got {max_seconds!r}."
        )
    if not isinstance(lenient, bool):
        raise ValueError(f"data.options.lenient must be true or false, got {lenient!r}.")


def _read_fsdd(
    name: str, data_dir: str | Path | None, max_seconds: float, lenient: bool
) -> tuple[AudioExamples, np.ndarray, dict[str, str]]:
    """Read every recording in sorted name order; return examples, take indices, skipped files."""
    help_text = (
        f"Get the recordings/ folder of {FSDD_SOURCE}, or point data.data_dir=... at a folder "
        "holding fsdd/recordings/ (CI uses ../shared/data)."
    )
    if data_dir is None:
        raise FileNotFoundError(
            f"data.name={name!r} reads <data.data_dir>/fsdd/recordings/, but data.data_dir is not "
            "set. " + help_text
        )
    folder = Path(data_dir) / "fsdd" / "recordings"
    if not folder.is_dir():
        raise FileNotFoundError(f"data.name={name!r}: {folder} does not exist. " + help_text)
    paths = sorted(folder.glob("*.wav"))
    if not paths:
        raise FileNotFoundError(f"data.name={name!r}: {folder} holds no .wav files. " + help_text)
    waveforms, labels, speakers, takes, files, skipped = [], [], [], [], [], {}
    for path in paths:
        try:
            digit, speaker, take = _parse_fsdd_name(path)
            waveform = _read_wav(path, FSDD_SAMPLE_RATE, max_seconds)
        except ValueError as error:
            if not lenient:
                raise
            skipped[str(path)] = str(error)
            continue
        waveforms.append(waveform)
        labels.append(digit)
        speakers.append(speaker)
        takes.append(take)
        files.append(str(path))
    if not waveforms:
        raise ValueError(
            f"data.name={name!r}: all {len(paths)} files in {folder} are bad and were skipped; "
            f"first: {next(iter(skipped.items()))}."
        )
    waveforms = resample(waveforms, FSDD_SAMPLE_RATE)
    examples = AudioExamples(waveforms, np.asarray(labels, dtype=np.int64), speakers, files)
    return examples, np.asarray(takes, dtype=np.int64), skipped


def _parse_fsdd_name(path: Path) -> tuple[int, str, int]:
    match = FSDD_NAME.fullmatch(path.name)
    if match is None:
        raise ValueError(
            f"{path}: the name does not parse as {{digit}}_{{speaker}}_{{index}}.wav "
            "(e.g. 7_jackson_32.wav); rename it or remove it, or set data.options.lenient=true "
            "to skip it."
        )
    return int(match["digit"]), match["speaker"], int(match["index"])


def _read_wav(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Read a mono wav, checking it is readable, non-empty, at `sample_rate` and short enough."""
    skip_hint = "; set data.options.lenient=true to skip such files."
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (
        RuntimeError,
        OSError,
        ValueError,
        EOFError,
    ) as error:  # LibsndfileError is a RuntimeError
        raise ValueError(
            f"{path} cannot be read as a wav file ({error}); it is truncated or corrupt" + skip_hint
        ) from error
    if rate != sample_rate:
        raise ValueError(f"{path} has sample rate {rate} Hz; expected {sample_rate} Hz" + skip_hint)
    if audio.shape[1] != 1:
        raise ValueError(f"{path} has {audio.shape[1]} channels; expected mono" + skip_hint)
    if audio.shape[0] == 0:
        raise ValueError(f"{path} holds no samples" + skip_hint)
    seconds = audio.shape[0] / rate
    if seconds > max_seconds:
        raise ValueError(
            f"{path} lasts {seconds:.3f} s, longer than data.options.max_seconds={max_seconds}; "
            "raise data.options.max_seconds (and the feature window) to keep it" + skip_hint
        )
    return np.ascontiguousarray(audio[:, 0])


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


AUDIO_DATASETS: dict[str, AudioDataset] = {
    "fsdd": AudioDataset(
        load=_load_fsdd,
        label_names=tuple(str(digit) for digit in range(10)),
        source=FSDD_SOURCE,
        options={
            "split": "official",
            "test_speakers": ("george", "lucas"),
            "val_fraction": 0.1,
            "max_seconds": 2.5,
            "lenient": False,
        },
    ),
}
