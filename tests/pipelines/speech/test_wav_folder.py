"""Tests for a user's folder of labelled wavs: classes, seeded stratified splits, bad files."""

import numpy as np
import pytest

from pipelines.speech.datasets import SAMPLE_RATE, load_audio_dataset

CLASSES = ("yes", "no", "stop")


@pytest.fixture
def folder(tmp_path, wav_writer):
    """Ten 0.3 s clips per class, at 8 kHz, 16 kHz and 44.1 kHz in turn."""
    root = tmp_path / "words"
    for name in CLASSES:
        for index in range(10):
            rate = (8000, 16000, 44100)[index % 3]
            wav_writer(root / name, f"{name}_{index}.wav", seconds=0.3, rate=rate)
    (root / "yes" / "notes.txt").write_text("not audio: ignored")
    (root / ".hidden").mkdir()
    return root


def _load(path, **options):
    return load_audio_dataset("wav_folder", None, path=str(path), **options)


def test_classes_are_the_sorted_sub_folders(folder):
    splits = _load(folder)
    assert splits.label_names == ["no", "stop", "yes"]
    everything = [*splits.train.files, *splits.val.files, *splits.test.files]
    assert len(everything) == len(set(everything)) == 30
    for split in (splits.train, splits.val, splits.test):
        for label, file in zip(split.labels, split.files, strict=True):
            assert f"/{splits.label_names[label]}/" in file


def test_splits_are_stratified_and_seeded(folder):
    splits = _load(folder, seed=0)
    assert [len(splits.train), len(splits.val), len(splits.test)] == [21, 3, 6]
    assert np.bincount(splits.test.labels).tolist() == [2, 2, 2]
    assert np.bincount(splits.val.labels).tolist() == [1, 1, 1]
    again = load_audio_dataset("wav_folder", None, seed=0, path=str(folder))
    other = load_audio_dataset("wav_folder", None, seed=1, path=str(folder))
    assert again.test.files == splits.test.files and again.val.files == splits.val.files
    assert other.test.files != splits.test.files


def test_every_rate_is_resampled_to_16_khz(folder):
    splits = _load(folder)
    lengths = {len(w) for split in (splits.train, splits.val, splits.test) for w in split.waveforms}
    assert lengths == {round(0.3 * SAMPLE_RATE)}


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path, wav: path.write_bytes(b"RIFF\x00\x00garbage"), "cannot be read"),
        (lambda path, wav: wav(path.parent, path.name, seconds=0.0), "no samples"),
        (lambda path, wav: wav(path.parent, path.name, seconds=3.0), "max_seconds=2.5"),
    ],
)
def test_bad_file_is_named_or_skipped_and_counted_when_lenient(folder, wav_writer, write, message):
    bad = folder / "stop" / "bad.wav"
    write(bad, wav_writer)
    with pytest.raises(ValueError, match=message) as error:
        _load(folder)
    assert str(bad) in str(error.value)
    splits = _load(folder, lenient=True)
    assert list(splits.skipped) == [str(bad)] and message in splits.skipped[str(bad)]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 30


def test_empty_class_folder_is_named(folder):
    (folder / "maybe").mkdir()
    with pytest.raises(FileNotFoundError, match=r"class folder .*maybe .*holds no \.wav files"):
        _load(folder)


def test_class_with_too_few_readable_clips_is_named(folder, wav_writer):
    wav_writer(folder / "maybe", "good.wav")
    (folder / "maybe" / "broken.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"maybe \(1\) .*after skipping bad files"):
        _load(folder, lenient=True)


def test_folder_without_wavs_or_classes_is_an_error(tmp_path, wav_writer):
    with pytest.raises(FileNotFoundError, match="data.options.path=<folder>"):
        load_audio_dataset("wav_folder", None)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        _load(tmp_path / "absent")
    wav_writer(tmp_path, "loose.wav")
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        _load(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="all 2 files .* are bad"):
        _load(tmp_path, lenient=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_fraction": 0}, "data.options.val_fraction"),
        ({"test_fraction": 1.5}, "data.options.test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "nothing to train on"),
        ({"max_seconds": "long"}, "data.options.max_seconds"),
        ({"lenient": None}, "data.options.lenient"),
    ],
)
def test_bad_options_are_named(folder, options, message):
    with pytest.raises(ValueError, match=message):
        _load(folder, **options)


def test_a_few_clips_per_class_are_a_test_only_target(tmp_path, wav_writer):
    """Like Asterisk's 22 studio prompts: one or two clips per class cannot fill train, val and
    test, but they can all be a cross-domain test set."""
    for name in ("yes", "no"):
        wav_writer(tmp_path / name, f"{name}.wav", seconds=0.3)
    with pytest.raises(ValueError, match="fewer"):
        _load(tmp_path)
    splits = load_audio_dataset(
        "wav_folder", None, for_training=False, path=str(tmp_path), test_only=True
    )
    assert (len(splits.train), len(splits.val), len(splits.test)) == (0, 0, 2)
    assert splits.label_names == ["no", "yes"]
    with pytest.raises(ValueError, match="data.options.test_only=true makes every clip"):
        load_audio_dataset("wav_folder", None, path=str(tmp_path), test_only=True)
