"""Tests for the espeak-ng digits: real generation into a temporary cache, reuse, voice splits."""

import shutil

import numpy as np
import pytest

from pipelines.speech import espeak_digits
from pipelines.speech.datasets import SAMPLE_RATE, load_audio_dataset

requires_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (scripts/setup.sh)"
)
# Two training voices, so every digit has a clip for train and one for val.
TINY = {"voices": ["en-us+m1", "en-029+m3", "en-gb+f2"], "speeds": [175], "pitches": [50]}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("espeak-cache")


@pytest.fixture(scope="module")
def tiny(cache_dir):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup.sh)")
    return load_audio_dataset(
        "espeak_digits", None, test_voices=["en-gb+f2"], cache_dir=str(cache_dir), **TINY
    )


def _cached_folders(cache_dir):
    return sorted(path for path in cache_dir.iterdir() if path.is_dir())


def test_generates_every_digit_in_every_voice(tiny, cache_dir):
    (folder,) = _cached_folders(cache_dir)
    assert len(list(folder.glob("*.wav"))) == 30 and (folder / "settings.json").is_file()
    for split in (tiny.train, tiny.val, tiny.test):
        assert sorted(split.labels.tolist()) == list(range(10))
    assert tiny.label_names == [str(digit) for digit in range(10)] and tiny.skipped == {}
    for waveform in tiny.test.waveforms:
        assert waveform.dtype == np.float32 and 0.2 * SAMPLE_RATE < len(waveform) < SAMPLE_RATE
        assert np.abs(waveform).max() > 0.05  # speech, not silence


def test_test_voices_are_never_heard_in_training(tiny):
    assert set(tiny.test.speakers) == {"en-gb+f2"}
    assert set(tiny.train.speakers + tiny.val.speakers) == {"en-us+m1", "en-029+m3"}


def test_second_call_reads_the_cache_without_espeak(tiny, cache_dir, monkeypatch):
    (folder,) = _cached_folders(cache_dir)
    written = {path: path.stat().st_mtime_ns for path in folder.iterdir()}

    def fail(*args, **kwargs):
        raise AssertionError("espeak-ng ran although the clips are cached")

    monkeypatch.setattr(espeak_digits, "synthesize", fail)
    monkeypatch.setattr(espeak_digits.shutil, "which", lambda name: None)
    reordered = {**TINY, "voices": TINY["voices"][::-1]}  # the same set of clips
    again = load_audio_dataset(
        "espeak_digits", None, test_voices=["en-gb+f2"], cache_dir=str(cache_dir), **reordered
    )
    assert {path: path.stat().st_mtime_ns for path in folder.iterdir()} == written
    assert sorted(again.test.files) == sorted(tiny.test.files)


@requires_espeak
def test_other_settings_get_their_own_folder(tiny, tmp_path):
    first = espeak_digits.espeak_digit_folder(["en-us+m1"], [175], [50], tmp_path)
    other = espeak_digits.espeak_digit_folder(["en-us+m1"], [175], [70], tmp_path)
    assert first != other and first.parent == other.parent == tmp_path
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([first.name, other.name])


@requires_espeak
def test_failed_generation_leaves_no_cache_behind(tmp_path):
    with pytest.raises(ValueError, match=r"voice 'xx-nowhere'.*espeak-ng --voices"):
        espeak_digits.espeak_digit_folder(["xx-nowhere"], [175], [50], tmp_path)
    assert list(tmp_path.iterdir()) == []


@requires_espeak
def test_unknown_variant_is_named_since_espeak_ignores_it(tmp_path):
    with pytest.raises(ValueError, match=r"'en-us\+zz9'.*unknown espeak-ng variant"):
        espeak_digits.espeak_digit_folder(["en-us+zz9"], [175], [50], tmp_path)


def test_missing_espeak_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(espeak_digits.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"apt-get install espeak-ng.*scripts/setup\.sh"):
        load_audio_dataset("espeak_digits", None, cache_dir=str(tmp_path))


def test_corrupt_cached_clip_is_named_or_skipped_when_lenient(tiny, cache_dir, tmp_path):
    (folder,) = _cached_folders(cache_dir)
    copy = shutil.copytree(folder, tmp_path / folder.name)
    broken = copy / "3_en-us+m1_s175_p50.wav"
    broken.write_bytes(b"RIFF")
    options = {"test_voices": ["en-gb+f2"], "cache_dir": str(tmp_path), **TINY}
    with pytest.raises(ValueError, match=r"3_en-us\+m1_s175_p50\.wav cannot be read"):
        load_audio_dataset("espeak_digits", None, **options)
    lenient = load_audio_dataset("espeak_digits", None, lenient=True, **options)
    assert list(lenient.skipped) == [str(broken)] and len(lenient.train) + len(lenient.val) == 19


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"voices": []}, "data.options.voices is empty"),
        ({"voices": "en-us"}, "data.options.voices.*not a ListConfig"),
        ({"voices": ["en-us", "en-us"]}, "lists a name twice"),
        ({"speeds": [20]}, r"data.options.speeds .*\[80, 450\]"),
        ({"pitches": [50, 120]}, r"data.options.pitches .*\[0, 99\]"),
        ({"pitches": []}, "data.options.pitches"),
        ({"val_fraction": 0}, "data.options.val_fraction"),
        ({"test_voices": ["en-029+m7"]}, r"\['en-029\+m7'\], which data.options.voices lacks"),
        ({"test_voices": TINY["voices"]}, "every speaker"),
    ],
)
def test_bad_options_are_named(tiny, cache_dir, options, message):
    settings = {"test_voices": ["en-gb+f2"], "cache_dir": str(cache_dir), **TINY, **options}
    with pytest.raises(ValueError, match=message):
        load_audio_dataset("espeak_digits", None, **settings)
