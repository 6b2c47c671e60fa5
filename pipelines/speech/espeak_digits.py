"""Synthetic spoken digits from espeak-ng: many voices for free, generated once and cached on disk.

espeak-ng (Debian package `espeak-ng`, a GPL-3.0 tool; the audio it makes is ours to use) speaks
the words "zero".."nine" in every voice (an accent such as `en-gb-x-rp` plus a formant variant
such as `+m3` or `+f2`), speed (words per minute) and pitch (0-99) asked for. The clips are
written once to `<cache_dir>/<hash of those settings>/`, built in a temporary folder and renamed
into place so a crash never leaves half a cache; later runs only read them, and need no
espeak-ng. Each voice is a speaker, and `test_voices` are held out whole: no test voice is heard
in training. See data_cards/espeak_digits.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.speech.audio_io import (
    DIGITS,
    AudioClassificationSplits,
    Clip,
    read_clips,
    require_some_clips,
)
from pipelines.speech.options import (
    check_fraction,
    check_integers_in,
    check_names,
    check_positive,
)
from pipelines.speech.splits import held_out_speaker_mask, split_with_test_mask
from shared.atomic import build_folder_atomically
from shared.cache import cache_root

ESPEAK_SOURCE = "speech synthesised with espeak-ng (https://github.com/espeak-ng/espeak-ng)"
INSTALL_HINT = "install it with `apt-get install espeak-ng`, or run scripts/setup.sh"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CACHE_LAYOUT = 1  # part of the cache hash: bump it when the file layout below changes
CACHE_NAME = "espeak-digits"
ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029")
VARIANTS = ("m1", "m3", "f1", "f3")
# One voice per accent, each variant at least once: every test voice is new as a whole,
# though its accent and its variant are each heard in training in other voices.
TEST_VOICES = ("en-us+f3", "en-gb+m3", "en-gb-x-rp+f1", "en-gb-scotland+m1", "en-029+f3")


@dataclass
class EspeakOptions:
    voices: list[str] = field(
        default_factory=lambda: [f"{accent}+{var}" for accent in ACCENTS for var in VARIANTS]
    )
    speeds: list[int] = field(default_factory=lambda: [130, 175, 220])
    pitches: list[int] = field(default_factory=lambda: [35, 65])
    test_voices: list[str] = field(default_factory=lambda: list(TEST_VOICES))
    val_fraction: float = 0.1
    max_seconds: float = 2.5
    lenient: bool = False
    cache_dir: str | None = None


SPEED_RANGE = (80, 450)  # words per minute that espeak-ng documents
PITCH_RANGE = (0, 99)


def load_espeak_digits(
    name: str,
    data_dir: str | Path | None,
    seed: int,
    voices: Sequence[str],
    speeds: Sequence[int],
    pitches: Sequence[int],
    test_voices: Sequence[str],
    val_fraction: float,
    max_seconds: float,
    lenient: bool,
    cache_dir: str | Path | None,
) -> AudioClassificationSplits:
    """espeak-ng digits (generated on first use) with `test_voices` held out for test.

    `data_dir` is unused: the clips live in the cache, not in the data folder.
    """
    check_names("voices", voices, "espeak-ng voices such as 'en-us+m3'")
    if not voices:
        raise ValueError("data.options.voices is empty; name at least two espeak-ng voices.")
    check_integers_in("speeds", speeds, *SPEED_RANGE)
    check_integers_in("pitches", pitches, *PITCH_RANGE)
    check_names("test_voices", test_voices, "voices from data.options.voices")
    unknown = sorted(set(test_voices) - set(voices))
    if unknown:
        raise ValueError(
            f"data.options.test_voices names {unknown}, which data.options.voices lacks; "
            f"choose test voices among {list(voices)}."
        )
    check_fraction("val_fraction", val_fraction)
    check_positive("max_seconds", max_seconds)
    folder = espeak_digit_folder(voices, speeds, pitches, cache_dir)
    clips = [
        Clip(folder / _clip_name(digit, voice, speed, pitch), digit, voice)
        for digit, voice, speed, pitch in _renderings(voices, speeds, pitches)
    ]
    examples, skipped = read_clips(clips, max_seconds, lenient)
    require_some_clips(name, folder, examples, skipped)
    is_test = held_out_speaker_mask(examples.speakers, test_voices, "test_voices")
    indices = split_with_test_mask(
        examples.labels,
        is_test,
        val_fraction,
        seed,
        f"data.options.test_voices={list(test_voices)}",
    )
    train, val, test = (examples.subset(part) for part in indices)
    return AudioClassificationSplits(train, val, test, list(DIGITS), skipped)


def espeak_digit_folder(
    voices: Sequence[str],
    speeds: Sequence[int],
    pitches: Sequence[int],
    cache_dir: str | Path | None = None,
) -> Path:
    """The cached folder of every digit in every voice, speed and pitch, generated if absent.

    Returns:
        `<cache_dir>/<hash>/`, holding `{digit}_{voice}_s{speed}_p{pitch}.wav` (22.05 kHz
        for espeak-ng's own voices) and `settings.json`: what was generated, by which espeak-ng.
    """
    settings = {
        "layout": CACHE_LAYOUT,
        "voices": sorted(voices),
        "speeds": sorted(speeds),
        "pitches": sorted(pitches),
        "words": list(DIGIT_WORDS),
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    target = (Path(cache_dir).expanduser() if cache_dir else cache_root() / CACHE_NAME) / digest
    if target.is_dir():
        return target
    espeak = _espeak_executable()
    _check_variants(espeak, voices)

    def build(folder: Path) -> None:
        _generate(espeak, _renderings(voices, speeds, pitches), folder)
        version = subprocess.run([espeak, "--version"], capture_output=True, text=True).stdout
        (folder / "settings.json").write_text(
            json.dumps({**settings, "espeak_ng": version.strip()}, indent=2) + "\n"
        )

    return build_folder_atomically(target, build)


def _generate(espeak: str, renderings: list[tuple[int, str, int, int]], folder: Path) -> None:
    """Write every (digit, voice, speed, pitch) rendering into `folder`."""

    def speak(rendering: tuple[int, str, int, int]) -> None:
        digit, voice, speed, pitch = rendering
        path = folder / _clip_name(*rendering)
        synthesize(espeak, DIGIT_WORDS[digit], voice, speed, pitch, path)

    # One short espeak-ng process per clip, mostly start-up time: keep every core busy.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(speak, renderings))


def synthesize(espeak: str, text: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    """Speak `text` with espeak-ng into the wav file `path`."""
    command = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0 or not path.is_file():
        raise ValueError(
            f"espeak-ng could not speak {text!r} as voice {voice!r} (data.options.voices): "
            f"{result.stderr.strip() or f'exit status {result.returncode}'}; `espeak-ng --voices`"
            " lists the accents."
        )


def _renderings(
    voices: Sequence[str], speeds: Sequence[int], pitches: Sequence[int]
) -> list[tuple[int, str, int, int]]:
    """(digit, voice, speed, pitch) of every clip, voice by voice."""
    return [
        (digit, voice, speed, pitch)
        for voice in voices
        for speed in speeds
        for pitch in pitches
        for digit in range(len(DIGIT_WORDS))
    ]


def _clip_name(digit: int, voice: str, speed: int, pitch: int) -> str:
    return f"{digit}_{voice}_s{speed}_p{pitch}.wav"


def _espeak_executable() -> str:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise FileNotFoundError(
            f"data.name='espeak_digits' generates its clips with espeak-ng, which is not on PATH: "
            f"{INSTALL_HINT}. (Clips already in the cache are read without it.)"
        )
    return espeak


def _check_variants(espeak: str, voices: Sequence[str]) -> None:
    """Reject unknown `+variant`s: espeak-ng ignores them silently, which would mislabel voices."""
    listing = subprocess.run([espeak, "--voices=variant"], capture_output=True, text=True).stdout
    known = {word.removeprefix("!v/") for word in listing.split() if word.startswith("!v/")}
    for voice in voices:
        _, plus, variant = voice.partition("+")
        if plus and variant not in known:
            raise ValueError(
                f"data.options.voices: {voice!r} has the unknown espeak-ng variant {variant!r}; "
                f"known variants: {', '.join(sorted(known))}."
            )
