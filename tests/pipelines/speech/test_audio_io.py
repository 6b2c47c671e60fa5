"""Tests for reading wav clips: checks naming the file, lenient skips, resampling any rate."""

import numpy as np
import pytest
import soundfile

from pipelines.speech.audio_io import (
    SAMPLE_RATE,
    AudioExamples,
    Clip,
    read_clips,
    read_wav,
    resample_each,
)


def test_read_wav_returns_the_file_rate_unless_one_is_required(tmp_path, wav_writer):
    path = wav_writer(tmp_path, "a.wav", seconds=0.25, rate=44100)
    waveform, rate = read_wav(path, max_seconds=1.0)
    assert rate == 44100 and waveform.dtype == np.float32 and len(waveform) == 11025
    with pytest.raises(ValueError, match=r"a\.wav has sample rate 44100 Hz; expected 8000"):
        read_wav(path, max_seconds=1.0, sample_rate=8000)


def test_read_clips_resamples_each_rate_and_keeps_order(tmp_path, wav_writer):
    rates = [8000, 44100, 16000, 8000]
    clips = [
        Clip(wav_writer(tmp_path, f"{index}.wav", seconds=0.5, rate=rate), index, f"s{index}")
        for index, rate in enumerate(rates)
    ]
    examples, skipped = read_clips(clips, max_seconds=1.0, lenient=False)
    assert skipped == {}
    assert [len(waveform) for waveform in examples.waveforms] == [SAMPLE_RATE // 2] * 4
    assert examples.labels.tolist() == [0, 1, 2, 3]
    assert examples.speakers == ["s0", "s1", "s2", "s3"]
    assert examples.files == [str(clip.path) for clip in clips]
    original, _ = read_wav(clips[2].path, max_seconds=1.0)
    np.testing.assert_array_equal(examples.waveforms[2], original)  # 16 kHz is left alone


def test_resampling_keeps_a_tone_at_its_pitch(tmp_path):
    for rate in (8000, 44100):
        time = np.arange(rate) / rate
        soundfile.write(tmp_path / f"{rate}.wav", 0.5 * np.sin(2 * np.pi * 440 * time), rate)
    clips = [Clip(tmp_path / f"{rate}.wav", 0, "tone") for rate in (8000, 44100)]
    examples, _ = read_clips(clips, max_seconds=2.0, lenient=False)
    for waveform in examples.waveforms:
        spectrum = np.abs(np.fft.rfft(waveform))
        assert np.argmax(spectrum) * SAMPLE_RATE / len(waveform) == pytest.approx(440, abs=2)


def test_lenient_read_records_why_each_file_was_skipped(tmp_path, wav_writer):
    good = wav_writer(tmp_path, "good.wav")
    (tmp_path / "broken.wav").write_bytes(b"RIFF")
    clips = [Clip(tmp_path / "broken.wav", 0, "s"), Clip(good, 1, "s")]
    with pytest.raises(ValueError, match=r"broken\.wav cannot be read"):
        read_clips(clips, max_seconds=1.0, lenient=False)
    examples, skipped = read_clips(clips, max_seconds=1.0, lenient=True)
    assert examples.labels.tolist() == [1]
    assert list(skipped) == [str(tmp_path / "broken.wav")]


def test_resample_each_handles_nothing():
    assert resample_each([], []) == []


def test_subset_keeps_everything_aligned():
    waveforms = [np.full(i + 1, i, dtype=np.float32) for i in range(4)]
    examples = AudioExamples(waveforms, np.arange(4), ["a", "b", "c", "d"], ["w", "x", "y", "z"])
    part = examples.subset(np.array([3, 1]))
    assert part.labels.tolist() == [3, 1] and part.speakers == ["d", "b"]
    assert part.files == ["z", "x"] and len(part.waveforms[0]) == 4
    assert len(examples.subset([])) == 0
