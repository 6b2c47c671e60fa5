"""Studio recordings of the digits 0-9 by one speaker, from the Asterisk telephony voice prompts.

Debian's `asterisk-core-sounds-en-wav` (CC BY-SA 3.0, recorded by Allison Smith) installs 8 kHz
mono prompts under `/usr/share/asterisk/sounds/en_US_f_Allison/digits/{0..9}.wav` (Asterisk's
own `sounds/en` link points there once Asterisk is installed). Ten clips of one voice are too few
to train on, so this is an evaluation-only domain: all ten form the test split, and the registry
marks the dataset `test_only` so training on it is refused. See data_cards/asterisk_digits.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.speech.audio_io import (
    DIGITS,
    AudioClassificationSplits,
    Clip,
    read_clips,
    require_some_clips,
)
from pipelines.speech.options import check_positive

ASTERISK_SOURCE = (
    "the Asterisk core sound prompts (Debian asterisk-core-sounds-en-wav, Allison Smith, "
    "CC BY-SA 3.0)"
)
SOUNDS_DIRS = (
    Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
    Path("/usr/share/asterisk/sounds/en"),
)
ASTERISK_SAMPLE_RATE = 8000
ASTERISK_SPEAKER = "allison"


@dataclass
class AsteriskOptions:
    sounds_dir: str | None = None  # None: the Debian package's folder
    max_seconds: float = 2.5
    lenient: bool = False


def load_asterisk_digits(
    name: str,
    data_dir: str | Path | None,
    seed: int,
    sounds_dir: str | Path | None,
    max_seconds: float,
    lenient: bool,
) -> AudioClassificationSplits:
    """The ten prompts as the test split; train and val are empty (`data_dir`, `seed` unused)."""
    check_positive("max_seconds", max_seconds)
    folder = _digits_folder(name, sounds_dir)
    clips = [Clip(folder / f"{digit}.wav", digit, ASTERISK_SPEAKER) for digit in range(10)]
    examples, skipped = read_clips(clips, max_seconds, lenient, ASTERISK_SAMPLE_RATE)
    require_some_clips(name, folder, examples, skipped)
    nothing = examples.subset(np.zeros(0, dtype=np.int64))
    return AudioClassificationSplits(nothing, nothing, examples, list(DIGITS), skipped)


def _digits_folder(name: str, sounds_dir: str | Path | None) -> Path:
    """`<sounds_dir>/digits`, from the option or the first installed default, with every digit."""
    candidates = [Path(sounds_dir).expanduser()] if sounds_dir is not None else list(SOUNDS_DIRS)
    for folder in (candidate / "digits" for candidate in candidates):
        if folder.is_dir():
            missing = [
                f"{digit}.wav" for digit in range(10) if not (folder / f"{digit}.wav").exists()
            ]
            if missing:
                raise FileNotFoundError(
                    f"data.name={name!r}: {folder} lacks {', '.join(missing)}; "
                    "data.options.sounds_dir must hold digits/0.wav .. digits/9.wav."
                )
            return folder
    raise FileNotFoundError(
        f"data.name={name!r} reads <sounds_dir>/digits/0.wav .. 9.wav, but none of "
        f"{', '.join(str(candidate) for candidate in candidates)} has a digits/ folder: install "
        "them with `apt-get install asterisk-core-sounds-en-wav` (or run scripts/setup.sh), or "
        "point data.options.sounds_dir at a folder holding digits/."
    )
