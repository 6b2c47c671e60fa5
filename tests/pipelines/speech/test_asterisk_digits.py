"""Tests for the Asterisk digit prompts: ten 16 kHz test clips labelled 0-9, never trained on."""

from pathlib import Path

import numpy as np
import pytest

from pipelines.speech.asterisk_digits import SOUNDS_DIRS
from pipelines.speech.datasets import SAMPLE_RATE, load_audio_dataset

requires_sounds = pytest.mark.skipif(
    not any((folder / "digits" / "0.wav").is_file() for folder in SOUNDS_DIRS),
    reason="asterisk-core-sounds-en-wav is not installed (scripts/setup.sh)",
)


def _write_digits(sounds_dir: Path, wav_writer, rate: int = 8000) -> Path:
    for digit in range(10):
        wav_writer(sounds_dir / "digits", f"{digit}.wav", seconds=0.5, rate=rate)
    return sounds_dir / "digits"


@requires_sounds
def test_installed_prompts_are_ten_16_khz_test_clips_labelled_0_to_9():
    splits = load_audio_dataset("asterisk_digits", None, for_training=False)
    assert splits.test.labels.tolist() == list(range(10))
    assert [Path(file).name for file in splits.test.files] == [f"{d}.wav" for d in range(10)]
    assert set(splits.test.speakers) == {"allison"} and splits.skipped == {}
    assert len(splits.train) == len(splits.val) == 0
    for file, waveform in zip(splits.test.files, splits.test.waveforms, strict=True):
        assert waveform.dtype == np.float32
        assert 0.5 * SAMPLE_RATE < len(waveform) < 1.2 * SAMPLE_RATE, file
        assert np.abs(waveform).max() > 0.1  # a spoken digit, not silence


def test_cannot_be_a_training_set(tmp_path, wav_writer):
    _write_digits(tmp_path, wav_writer)
    with pytest.raises(ValueError, match=r"cannot be trained on: it is evaluation-only"):
        load_audio_dataset("asterisk_digits", None, sounds_dir=str(tmp_path))


def test_sounds_dir_option_overrides_the_installed_prompts(tmp_path, wav_writer):
    folder = _write_digits(tmp_path, wav_writer)
    splits = load_audio_dataset(
        "asterisk_digits", None, for_training=False, sounds_dir=str(tmp_path)
    )
    assert splits.test.files == [str(folder / f"{digit}.wav") for digit in range(10)]
    assert {len(waveform) for waveform in splits.test.waveforms} == {SAMPLE_RATE // 2}


def test_missing_prompts_say_what_to_install(tmp_path, wav_writer):
    with pytest.raises(FileNotFoundError, match=r"apt-get install asterisk-core-sounds-en-wav"):
        load_audio_dataset("asterisk_digits", None, for_training=False, sounds_dir=str(tmp_path))
    folder = _write_digits(tmp_path, wav_writer)
    (folder / "7.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 7\.wav"):
        load_audio_dataset("asterisk_digits", None, for_training=False, sounds_dir=str(tmp_path))


def test_bad_prompt_is_named_or_skipped_when_lenient(tmp_path, wav_writer):
    folder = _write_digits(tmp_path, wav_writer)
    wav_writer(folder, "4.wav", rate=16000)
    options = {"for_training": False, "sounds_dir": str(tmp_path)}
    with pytest.raises(ValueError, match=r"4\.wav has sample rate 16000 Hz; expected 8000"):
        load_audio_dataset("asterisk_digits", None, **options)
    splits = load_audio_dataset("asterisk_digits", None, lenient=True, **options)
    assert list(splits.skipped) == [str(folder / "4.wav")]
    assert splits.test.labels.tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_seconds": -1}, "data.options.max_seconds"),
        ({"lenient": "sometimes"}, "data.options.lenient"),
    ],
)
def test_bad_options_are_named(tmp_path, wav_writer, options, message):
    _write_digits(tmp_path, wav_writer)
    with pytest.raises(ValueError, match=message):
        load_audio_dataset(
            "asterisk_digits", None, for_training=False, sounds_dir=str(tmp_path), **options
        )
