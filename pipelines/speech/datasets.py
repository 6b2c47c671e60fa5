"""The audio classification datasets the speech pipeline accepts, each read into train/val/test.

One registry, `AUDIO_DATASETS`, is the single list of dataset names (`data.name`); each source
lives in its own module:

- `fsdd`: the Free Spoken Digit Dataset, 6 real speakers (`pipelines.speech.fsdd`);
- `espeak_digits`: digits synthesised with espeak-ng in many voices, cached on disk
  (`pipelines.speech.espeak_digits`);
- `asterisk_digits`: one studio voice's digit prompts, for testing only
  (`pipelines.speech.asterisk_digits`);
- `wav_folder`: any `<path>/<class>/*.wav` folder (`pipelines.speech.wav_folder`).

The three digit datasets share the labels "0".."9", so a model trained on one is tested on
another as it is. Waveforms are float32 in [-1, 1] at `SAMPLE_RATE` (16 kHz, what Whisper
expects); log-mel features belong to the data module (`pipelines.speech.datamodule`). With
`data.options.lenient=true` a bad file is skipped instead of stopping the run, but never
silently: `AudioClassificationSplits.skipped` maps each skipped file to the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.speech.asterisk_digits import ASTERISK_OPTIONS, ASTERISK_SOURCE, load_asterisk_digits
from pipelines.speech.audio_io import (
    DIGITS,
    SAMPLE_RATE,
    AudioClassificationSplits,
    AudioExamples,
    resample,
)
from pipelines.speech.espeak_digits import ESPEAK_OPTIONS, ESPEAK_SOURCE, load_espeak_digits
from pipelines.speech.fsdd import FSDD_OPTIONS, FSDD_SOURCE, load_fsdd
from pipelines.speech.wav_folder import WAV_FOLDER_OPTIONS, load_wav_folder

SPLITS = ("train", "val", "test")
__all__ = [
    "AUDIO_DATASETS",
    "SAMPLE_RATE",
    "SPLITS",
    "AudioClassificationSplits",
    "AudioDataset",
    "AudioExamples",
    "load_audio_dataset",
    "resample",
]


@dataclass(frozen=True)
class AudioDataset:
    """A registry entry: how to read the dataset, its classes, options and where it comes from.

    `load(name, data_dir, seed, **options)` returns the splits with the skipped files.
    `label_names` is None where the classes come from the data (`wav_folder`). A `test_only`
    dataset has no train or val clips: it is a domain to evaluate on, never to train on.
    """

    load: Callable[..., AudioClassificationSplits]
    label_names: tuple[str, ...] | None
    source: str
    options: Mapping[str, Any] = field(default_factory=dict)
    test_only: bool = False


def load_audio_dataset(
    name: str,
    data_dir: str | Path | None,
    seed: int = 0,
    *,
    for_training: bool = True,
    **options: Any,
) -> AudioClassificationSplits:
    """Read dataset `name` and split it into train, val (carved with `seed`) and test.

    Args:
        name: a key of `AUDIO_DATASETS` (`data.name`).
        data_dir: folder holding `fsdd/recordings/` (`data.data_dir`); other sources ignore it.
        seed: seeds the validation split; only `wav_folder`'s test split depends on it too.
        for_training: the caller trains on the train split, so a `test_only` dataset is refused;
            pass False to read one for evaluation (its train and val splits are empty).
        options: dataset options, see `AUDIO_DATASETS[name].options` for names and defaults.
    """
    dataset = AUDIO_DATASETS.get(name)
    if dataset is None:
        raise ValueError(
            f"data.name={name!r} is not an audio dataset; valid names: {', '.join(AUDIO_DATASETS)}."
        )
    if dataset.test_only and for_training:
        trainable = ", ".join(key for key, entry in AUDIO_DATASETS.items() if not entry.test_only)
        raise ValueError(
            f"data.name={name!r} cannot be trained on: it is evaluation-only "
            f"(AUDIO_DATASETS[{name!r}].test_only=True), all its clips form the test split and "
            f"train would be empty. Train on one of {trainable} and evaluate on {name!r}."
        )
    unknown = sorted(set(options) - set(dataset.options))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(f'data.options.{key}' for key in unknown)} for "
            f"data.name={name!r}; valid options: {', '.join(dataset.options) or 'none'}."
        )
    return dataset.load(name, data_dir, seed, **{**dataset.options, **options})


AUDIO_DATASETS: dict[str, AudioDataset] = {
    "fsdd": AudioDataset(load_fsdd, DIGITS, FSDD_SOURCE, FSDD_OPTIONS),
    "espeak_digits": AudioDataset(load_espeak_digits, DIGITS, ESPEAK_SOURCE, ESPEAK_OPTIONS),
    "asterisk_digits": AudioDataset(
        load_asterisk_digits, DIGITS, ASTERISK_SOURCE, ASTERISK_OPTIONS, test_only=True
    ),
    "wav_folder": AudioDataset(
        load_wav_folder, None, "your own <path>/<class>/*.wav folder", WAV_FOLDER_OPTIONS
    ),
}
