"""The audio classification datasets the speech pipeline accepts, each read into train/val/test.

Each registers itself in the suite's dataset registry (`shared.datasets`) under its `data.name`,
with a dataclass of its options; each source lives in its own module:

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

from pathlib import Path
from typing import Any

from pipelines.speech.asterisk_digits import ASTERISK_SOURCE, AsteriskOptions, load_asterisk_digits
from pipelines.speech.audio_io import (
    DIGITS,
    SAMPLE_RATE,
    AudioClassificationSplits,
    AudioExamples,
    resample,
)
from pipelines.speech.espeak_digits import ESPEAK_SOURCE, EspeakOptions, load_espeak_digits
from pipelines.speech.fsdd import FSDD_SOURCE, FsddOptions, load_fsdd
from pipelines.speech.wav_folder import WavFolderOptions, load_wav_folder
from shared.datasets import checked_options, dataset_names, get_dataset, register_dataset

PIPELINE = "speech"
SPLITS = ("train", "val", "test")
__all__ = [
    "SAMPLE_RATE",
    "SPLITS",
    "AudioClassificationSplits",
    "AudioExamples",
    "load_audio_dataset",
    "resample",
]


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
        name: a registered speech dataset (`data.name`).
        data_dir: folder holding `fsdd/recordings/` (`data.data_dir`); other sources ignore it.
        seed: seeds the validation split; only `wav_folder`'s test split depends on it too.
        for_training: the caller trains on the train split, so a `test_only` dataset is refused;
            pass False to read one for evaluation (its train and val splits are empty).
        options: dataset options (`data.options`), checked against the dataset's options class.
    """
    dataset = get_dataset(name, PIPELINE)
    if dataset.test_only and for_training:
        raise ValueError(
            f"data.name={name!r} cannot be trained on: it is evaluation-only, all its clips form "
            f"the test split and train would be empty. Train on one of "
            f"{', '.join(dataset_names(PIPELINE, trainable=True))} and evaluate on {name!r}."
        )
    settings = checked_options(dataset, options)
    if settings.get("test_only") and for_training:
        raise ValueError(
            f"data.options.test_only=true makes every clip of data.name={name!r} a test clip; "
            "train on another dataset and name this one under data.cross_domain"
        )
    return dataset.loader(name, data_dir, seed, **settings)


# `facts` of each registered dataset: its class names, or None where the folder names them.
register_dataset(
    "fsdd", load_fsdd, pipeline=PIPELINE, options=FsddOptions, source=FSDD_SOURCE, facts=DIGITS
)
register_dataset(
    "espeak_digits",
    load_espeak_digits,
    pipeline=PIPELINE,
    options=EspeakOptions,
    source=ESPEAK_SOURCE,
    facts=DIGITS,
)
register_dataset(
    "asterisk_digits",
    load_asterisk_digits,
    pipeline=PIPELINE,
    options=AsteriskOptions,
    source=ASTERISK_SOURCE,
    test_only=True,
    facts=DIGITS,
)
register_dataset(
    "wav_folder",
    load_wav_folder,
    pipeline=PIPELINE,
    options=WavFolderOptions,
    source="your own <path>/<class>/*.wav folder",
)
