"""Tests for the audio dataset readers: real FSDD when present, malformed files always."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipelines.speech.datasets import (
    AUDIO_DATASETS,
    SAMPLE_RATE,
    AudioExamples,
    load_audio_dataset,
)

DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data"
requires_data = pytest.mark.skipif(
    not (DATA_DIR / "fsdd" / "recordings").is_dir(),
    reason=f"real data folder {DATA_DIR}/fsdd is absent (CI has ../shared/data)",
)


def _write_wav(folder: Path, name: str, seconds: float = 0.5, rate: int = 8000, channels=1):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(name))
    shape = (round(seconds * rate), channels) if channels > 1 else (round(seconds * rate),)
    soundfile.write(folder / name, (0.1 * rng.standard_normal(shape)).astype(np.float32), rate)
    return folder / name


def _write_fsdd(data_dir: Path, speakers=("alice", "bob", "carol"), takes: int = 7) -> Path:
    folder = data_dir / "fsdd" / "recordings"
    for digit in range(10):
        for speaker in speakers:
            for take in range(takes):
                _write_wav(folder, f"{digit}_{speaker}_{take}.wav", seconds=0.1)
    return folder


@pytest.fixture(scope="module")
def fsdd_official():
    return load_audio_dataset("fsdd", DATA_DIR, seed=0)


@pytest.fixture(scope="module")
def fsdd_speakers():
    return load_audio_dataset("fsdd", DATA_DIR, seed=0, split="speakers")


def test_registry_lists_fsdd():
    assert list(AUDIO_DATASETS) == ["fsdd"]
    assert AUDIO_DATASETS["fsdd"].label_names == tuple("0123456789")


@requires_data
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


@requires_data
def test_fsdd_speaker_split_holds_out_test_speakers(fsdd_speakers):
    splits = fsdd_speakers
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1800, 200, 1000)
    assert set(splits.test.speakers) == {"george", "lucas"}
    assert not {"george", "lucas"} & set(splits.train.speakers + splits.val.speakers)


@requires_data
def test_fsdd_is_deterministic_and_seeded(fsdd_official):
    again = load_audio_dataset("fsdd", DATA_DIR, seed=0)
    other = load_audio_dataset("fsdd", DATA_DIR, seed=1)
    assert again.val.files == fsdd_official.val.files
    assert all(
        np.array_equal(a, b)
        for a, b in zip(again.val.waveforms, fsdd_official.val.waveforms, strict=True)
    )
    assert other.val.files != fsdd_official.val.files
    assert other.test.files == fsdd_official.test.files


def test_synthetic_official_and_speaker_splits(tmp_path):
    _write_fsdd(tmp_path)
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
        ("0_alice_9.wav", lambda path: path.write_bytes(b"RIFF not a wav"), "cannot be read"),
        ("0_alice_9.wav", lambda path: _write_wav(path.parent, path.name, 0.0), "no samples"),
        ("0_alice_9.wav", lambda path: _write_wav(path.parent, path.name, rate=16000), "16000 Hz"),
        ("0_alice_9.wav", lambda path: _write_wav(path.parent, path.name, channels=2), "mono"),
        ("0_alice_9.wav", lambda path: _write_wav(path.parent, path.name, 3.0), "max_seconds"),
        ("zero_alice_9.wav", lambda path: _write_wav(path.parent, path.name), "does not parse"),
        ("0_alice.wav", lambda path: _write_wav(path.parent, path.name), "does not parse"),
    ],
)
def test_bad_file_is_an_error_naming_it_or_skipped_when_lenient(tmp_path, name, write, message):
    folder = _write_fsdd(tmp_path)
    write(folder / name)
    with pytest.raises(ValueError, match=message) as error:
        load_audio_dataset("fsdd", tmp_path)
    assert name in str(error.value)
    splits = load_audio_dataset("fsdd", tmp_path, lenient=True)
    assert list(splits.skipped) == [str(folder / name)]
    assert message in splits.skipped[str(folder / name)]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 210


def test_lenient_counts_every_skipped_file(tmp_path):
    folder = _write_fsdd(tmp_path)
    _write_wav(folder, "1_alice_20.wav", rate=44100)
    _write_wav(folder, "2_bob_20.wav", seconds=2.0)
    (folder / "3_bob_21.wav").write_bytes(b"")
    splits = load_audio_dataset("fsdd", tmp_path, lenient=True, max_seconds=1.5)
    assert sorted(Path(file).name for file in splits.skipped) == [
        "1_alice_20.wav",
        "2_bob_20.wav",
        "3_bob_21.wav",
    ]


def test_all_files_bad_is_an_error_even_when_lenient(tmp_path):
    _write_wav(tmp_path / "fsdd" / "recordings", "bad.wav")
    with pytest.raises(ValueError, match="all 1 files"):
        load_audio_dataset("fsdd", tmp_path, lenient=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split": "random"}, "data.options.split"),
        ({"max_seconds": 0}, "data.options.max_seconds"),
        ({"lenient": "yes"}, "data.options.lenient"),
        ({"val_fraction": 1.0}, "data.options.val_fraction"),
        ({"split": "speakers", "test_speakers": ["dave"]}, "dave"),
        ({"split": "speakers", "test_speakers": ["alice", "bob", "carol"]}, "every speaker"),
        ({"shuffle": True}, "data.options.shuffle"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    _write_fsdd(tmp_path, takes=6)
    with pytest.raises(ValueError, match=message):
        load_audio_dataset("fsdd", tmp_path, **options)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: fsdd"):
        load_audio_dataset("speech_commands", None)


def test_subset_keeps_everything_aligned():
    waveforms = [np.full(i + 1, i, dtype=np.float32) for i in range(4)]
    examples = AudioExamples(waveforms, np.arange(4), ["a", "b", "c", "d"], ["w", "x", "y", "z"])
    part = examples.subset(np.array([3, 1]))
    assert part.labels.tolist() == [3, 1] and part.speakers == ["d", "b"]
    assert part.files == ["z", "x"] and len(part.waveforms[0]) == 4
    assert len(examples.subset([])) == 0
