"""The Free Spoken Digit Dataset (FSDD): 3000 mono 8 kHz takes of the digits 0-9 by 6 speakers.

Read from `<data.data_dir>/fsdd/recordings/{digit}_{speaker}_{index}.wav` (CI: `../shared/data`);
nothing is copied into the repository. Two splits are offered: FSDD's own (`official`: takes 0-4
of every digit and speaker are the test set) and a speaker-held-out one (`speakers`), the harder
and more honest test of generalisation. See data_cards/fsdd.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.speech.audio_io import (
    DIGITS,
    AudioClassificationSplits,
    Clip,
    read_clips,
    require_some_clips,
)
from pipelines.speech.options import check_fraction, check_names, check_positive
from pipelines.speech.splits import held_out_speaker_mask, split_with_test_mask

FSDD_SOURCE = (
    "the Free Spoken Digit Dataset (https://github.com/Jakobovski/free-spoken-digit-dataset, "
    "CC BY-SA 4.0)"
)
FSDD_SAMPLE_RATE = 8000
FSDD_TEST_TAKES = 5  # FSDD's own convention: takes 0-4 of every digit and speaker are test.
FSDD_NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[A-Za-z]+)_(?P<index>[0-9]+)\.wav")


@dataclass
class FsddOptions:
    split: str = "official"  # "official" (by take) or "speakers" (test_speakers held out)
    test_speakers: list[str] = field(default_factory=lambda: ["george", "lucas"])
    val_fraction: float = 0.1
    max_seconds: float = 2.5
    lenient: bool = False  # skip unreadable clips (counted) instead of stopping


def load_fsdd(
    name: str,
    data_dir: str | Path | None,
    seed: int,
    split: str,
    test_speakers: Sequence[str],
    val_fraction: float,
    max_seconds: float,
    lenient: bool,
) -> AudioClassificationSplits:
    """FSDD split by take (`split='official'`) or with `test_speakers` held out (`'speakers'`)."""
    if split not in ("official", "speakers"):
        raise ValueError(f"data.options.split must be 'official' or 'speakers', got {split!r}.")
    check_names("test_speakers", test_speakers, "speaker names")
    check_fraction("val_fraction", val_fraction)
    check_positive("max_seconds", max_seconds)
    folder = _recordings_folder(name, data_dir)
    clips, takes, skipped = _parse_names(sorted(folder.glob("*.wav")), lenient)
    examples, unreadable = read_clips(clips, max_seconds, lenient, FSDD_SAMPLE_RATE)
    skipped = dict(sorted({**skipped, **unreadable}.items()))
    require_some_clips(name, folder, examples, skipped)
    if split == "official":
        kept_takes = np.asarray([takes[file] for file in examples.files], dtype=np.int64)
        is_test = kept_takes < FSDD_TEST_TAKES
    else:
        is_test = held_out_speaker_mask(examples.speakers, test_speakers, "test_speakers")
    indices = split_with_test_mask(
        examples.labels, is_test, val_fraction, seed, f"data.options.split={split!r}"
    )
    train, val, test = (examples.subset(part) for part in indices)
    return AudioClassificationSplits(train, val, test, list(DIGITS), skipped)


def _recordings_folder(name: str, data_dir: str | Path | None) -> Path:
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
    if not any(folder.glob("*.wav")):
        raise FileNotFoundError(f"data.name={name!r}: {folder} holds no .wav files. " + help_text)
    return folder


def _parse_names(
    paths: list[Path], lenient: bool
) -> tuple[list[Clip], dict[str, int], dict[str, str]]:
    """Clips labelled from their file names, each file's take, and the badly named files."""
    clips, takes, skipped = [], {}, {}
    for path in paths:
        match = FSDD_NAME.fullmatch(path.name)
        if match is None:
            error = (
                f"{path}: the name does not parse as {{digit}}_{{speaker}}_{{index}}.wav "
                "(e.g. 7_jackson_32.wav); rename it or remove it, or set "
                "data.options.lenient=true to skip it."
            )
            if not lenient:
                raise ValueError(error)
            skipped[str(path)] = error
            continue
        clips.append(Clip(path, int(match["digit"]), match["speaker"]))
        takes[str(path)] = int(match["index"])
    return clips, takes, skipped
