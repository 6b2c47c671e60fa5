"""Tests for the FSDD reader: real FSDD when present, malformed files always."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipelines.speech.datasets import SAMPLE_RATE, load_audio_dataset


@pytest.fixture
def write_fsdd(wav_writer):
    def write(data_dir: Path, speakers=("alice", "bob", "carol"), takes: int = 7) -> Path:
        folder = data_dir / "fsdd" / "recordings"
        for digit in range(10):
            for speaker in speakers:
                for take in range(takes):
                    wav_writer(folder, f"{digit}_{speaker}_{take}.wav", seconds=0.1)
        return folder

    return write


@pytest.fixture(scope="module")
def fsdd_data_dir(data_dir, require_data):
    """The real-data folder, once FSDD's recordings are known to be in it."""
    require_data("fsdd", "recordings")
    return data_dir


@pytest.fixture(scope="module")
def fsdd_official(fsdd_data_dir):
    return load_audio_dataset("fsdd", fsdd_data_dir, seed=0)


@pytest.fixture(scope="module")
def fsdd_speakers(fsdd_data_dir):
    return load_audio_dataset("fsdd", fsdd_data_dir, seed=0, split="speakers")


def test_fsdd_official_split_counts(fsdd_official):
    splits = fsdd_official
    assert (len(splits.train), len(splits.val), len(splits.test)) == (2430, 270, 300)
    assert splits.label_names == [str(digit) for digit in range(10)]
    assert splits.skipped == {}
    assert np.bincount(splits.test.labels).tolist() == [30] * 10
    assert np.bincount(splits.val.labels).tolist() == [27] * 10
    assert all(Path(file).stem.split("_")[2] in "01234" for file in splits.test.files)
    assert not set(splits.train.files) & set(splits.val.files)
    waveform = splits.train.waveforms[0]
    assert waveform.dtype == np.float32 and waveform.ndim == 1
    assert len(waveform) == 2 * soundfile.info(splits.train.files[0]).frames  # 8 -> 16 kHz


def test_fsdd_speaker_split_holds_out_test_speakers(fsdd_speakers):
    splits = fsdd_speakers
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1800, 200, 1000)
    assert set(splits.test.speakers) == {"george", "lucas"}
    assert not {"george", "lucas"} & set(splits.train.speakers + splits.val.speakers)


def test_fsdd_is_deterministic_and_seeded(fsdd_official, fsdd_data_dir):
    again = load_audio_dataset("fsdd", fsdd_data_dir, seed=0)
    other = load_audio_dataset("fsdd", fsdd_data_dir, seed=1)
    assert again.val.files == fsdd_official.val.files
    assert all(
        np.array_equal(a, b)
        for a, b in zip(again.val.waveforms, fsdd_official.val.waveforms, strict=True)
    )
    assert other.val.files != fsdd_official.val.files
    assert other.test.files == fsdd_official.test.files


def test_synthetic_official_and_speaker_splits(tmp_path, write_fsdd):
    write_fsdd(tmp_path)
    official = load_audio_dataset("fsdd", tmp_path, split="official", val_fraction=0.5)
    assert len(official.test) == 10 * 3 * 5
    assert len(official.train) + len(official.val) == 10 * 3 * 2
    speakers = load_audio_dataset("fsdd", tmp_path, split="speakers", test_speakers=["carol"])
    assert set(speakers.test.speakers) == {"carol"} and len(speakers.test) == 70
    assert "carol" not in speakers.train.speakers + speakers.val.speakers
    assert len(speakers.train.waveforms[0]) == round(0.1 * SAMPLE_RATE)


def test_missing_folder_says_where_to_get_fsdd(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"fsdd/recordings.*free-spoken-digit.*data_dir"):
        load_audio_dataset("fsdd", tmp_path)
    with pytest.raises(FileNotFoundError, match="data.data_dir is not set"):
        load_audio_dataset("fsdd", None)


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("0_alice_9.wav", lambda path, wav: path.write_bytes(b"RIFF not a wav"), "cannot be read"),
        ("0_alice_9.wav", lambda path, wav: wav(path.parent, path.name, 0.0), "no samples"),
        ("0_alice_9.wav", lambda path, wav: wav(path.parent, path.name, rate=16000), "16000 Hz"),
        ("0_alice_9.wav", lambda path, wav: wav(path.parent, path.name, channels=2), "mono"),
        ("0_alice_9.wav", lambda path, wav: wav(path.parent, path.name, 3.0), "max_seconds"),
        ("zero_alice_9.wav", lambda path, wav: wav(path.parent, path.name), "does not parse"),
        ("0_alice.wav", lambda path, wav: wav(path.parent, path.name), "does not parse"),
    ],
)
def test_bad_file_is_an_error_naming_it_or_skipped_when_lenient(
    tmp_path, write_fsdd, wav_writer, name, write, message
):
    folder = write_fsdd(tmp_path)
    write(folder / name, wav_writer)
    with pytest.raises(ValueError, match=message) as error:
        load_audio_dataset("fsdd", tmp_path)
    assert name in str(error.value)
    splits = load_audio_dataset("fsdd", tmp_path, lenient=True)
    assert list(splits.skipped) == [str(folder / name)]
    assert message in splits.skipped[str(folder / name)]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 210


def test_lenient_counts_every_skipped_file(tmp_path, write_fsdd, wav_writer):
    folder = write_fsdd(tmp_path)
    wav_writer(folder, "1_alice_20.wav", rate=44100)
    wav_writer(folder, "2_bob_20.wav", seconds=2.0)
    (folder / "3_bob_21.wav").write_bytes(b"")
    splits = load_audio_dataset("fsdd", tmp_path, lenient=True, max_seconds=1.5)
    assert sorted(Path(file).name for file in splits.skipped) == [
        "1_alice_20.wav",
        "2_bob_20.wav",
        "3_bob_21.wav",
    ]


def test_all_files_bad_is_an_error_even_when_lenient(tmp_path, wav_writer):
    wav_writer(tmp_path / "fsdd" / "recordings", "bad.wav")
    with pytest.raises(ValueError, match="all 1 files"):
        load_audio_dataset("fsdd", tmp_path, lenient=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split": "random"}, "data.options.split"),
        ({"max_seconds": 0}, "data.options.max_seconds"),
        ({"lenient": "sometimes"}, "data.options.lenient"),
        ({"val_fraction": 1.0}, "data.options.val_fraction"),
        ({"split": "speakers", "test_speakers": ["dave"]}, "dave"),
        ({"split": "speakers", "test_speakers": ["alice", "bob", "carol"]}, "every speaker"),
        ({"shuffle": True}, "data.options.shuffle"),
    ],
)
def test_bad_options_are_named(tmp_path, write_fsdd, options, message):
    write_fsdd(tmp_path, takes=6)
    with pytest.raises(ValueError, match=message):
        load_audio_dataset("fsdd", tmp_path, **options)
