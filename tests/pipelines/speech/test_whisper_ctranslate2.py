"""Tests for pipelines.speech.whisper_ctranslate2: the CTranslate2 parser on tiny synthetic
files, the cache's atomic write, and the real tiny.en conversion transcribing spoken digits.

The recordings come from the Free Spoken Digit Dataset (8 kHz, one digit per clip). Whisper
tiny.en mishears some of them (CTranslate2 itself turns `7_jackson_0` into "Kevin."), so the
clips used here are ones both runtimes get right.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import soundfile
import torch
import torchaudio
from transformers import WhisperForConditionalGeneration

from pipelines.speech import whisper_ctranslate2
from pipelines.speech.whisper_ctranslate2 import (
    SAMPLING_RATE,
    WEIGHTS_PACKAGE,
    packaged_model_dir,
    read_ctranslate2_model,
    whisper_from_ctranslate2,
    whisper_tiny_en_folder,
)

FSDD = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fsdd" / "recordings"
DIGIT_CLIPS = {"0_jackson_0": "zero", "4_george_0": "four", "6_george_0": "six", "9_theo_0": "nine"}
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DTYPE_CODES = {
    torch.float32: 0,
    torch.int8: 1,
    torch.int16: 2,
    torch.int32: 3,
    torch.float16: 4,
    torch.bfloat16: 5,
}


def _string(text: str) -> bytes:
    encoded = text.encode() + b"\0"
    return struct.pack("<H", len(encoded)) + encoded


def write_model_bin(
    path: Path, variables: dict[str, torch.Tensor], aliases: dict[str, str]
) -> None:
    """A CTranslate2 `model.bin` in the layout the parser reads."""
    data = struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 3, len(variables))
    for name, tensor in variables.items():
        raw = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
        data += _string(name) + struct.pack("<B", tensor.dim())
        data += struct.pack(f"<{tensor.dim()}I", *tensor.shape)
        data += struct.pack("<BI", DTYPE_CODES[tensor.dtype], len(raw)) + raw
    data += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        data += _string(alias) + _string(target)
    path.write_bytes(data)


SYNTHETIC = {
    "encoder/weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
    "encoder/flag": torch.tensor(3, dtype=torch.int8),
    "encoder/num_heads": torch.tensor(-6, dtype=torch.int16),
    "encoder/count": torch.tensor([7, -8], dtype=torch.int32),
    "decoder/half": torch.tensor([[0.5, -1.25]], dtype=torch.float16),
    "decoder/brain": torch.tensor([1.5, 2.0, -3.0], dtype=torch.bfloat16),
}


def test_parser_reads_every_dtype_shape_and_alias(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, SYNTHETIC, {"decoder/projection/weight": "encoder/weight"})
    model = read_ctranslate2_model(path)
    assert (model.version, model.spec_name, model.spec_revision) == (6, "WhisperSpec", 3)
    assert list(model.variables) == list(SYNTHETIC)
    for name, expected in SYNTHETIC.items():
        assert model.variables[name].dtype == expected.dtype
        assert torch.equal(model.variables[name], expected), name
    assert model.aliases == {"decoder/projection/weight": "encoder/weight"}


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, SYNTHETIC, {})
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"model\.bin: truncated"):
        read_ctranslate2_model(path)


def test_unknown_dtype_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, {"encoder/flag": torch.tensor(1, dtype=torch.int8)}, {})
    data = bytearray(path.read_bytes())
    data[data.index(b"encoder/flag\0") + len(b"encoder/flag\0") + 1] = 9  # after rank 0
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encoder/flag has unknown dtype code 9"):
        read_ctranslate2_model(path)


def test_failed_conversion_leaves_no_cache(tmp_path: Path, monkeypatch) -> None:
    def fail(model_dir: Path, output_dir: Path) -> Path:
        (Path(output_dir) / "partial.bin").write_bytes(b"x")
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(whisper_ctranslate2, "packaged_model_dir", lambda: tmp_path)
    monkeypatch.setattr(whisper_ctranslate2, "convert_ctranslate2_whisper", fail)
    with pytest.raises(RuntimeError, match="conversion failed"):
        whisper_tiny_en_folder(tmp_path / "cache" / "whisper")
    assert list((tmp_path / "cache").iterdir()) == []


def test_existing_cache_is_reused_without_converting(tmp_path: Path, monkeypatch) -> None:
    cached = tmp_path / "whisper"
    cached.mkdir()
    monkeypatch.setattr(whisper_ctranslate2, "convert_ctranslate2_whisper", None)
    assert whisper_tiny_en_folder(cached) == cached


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    pytest.importorskip(WEIGHTS_PACKAGE, reason=whisper_ctranslate2.INSTALL_LINE)
    return whisper_tiny_en_folder(tmp_path_factory.mktemp("cache") / "whisper-tiny.en-hf")


def read_clip(name: str) -> torch.Tensor:
    path = FSDD / f"{name}.wav"
    if not path.is_file():
        pytest.skip(f"Free Spoken Digit Dataset recording {path} is absent")
    wave, rate = soundfile.read(path, dtype="float32")
    return torchaudio.functional.resample(torch.from_numpy(wave), rate, SAMPLING_RATE)


def spoken_digit(text: str) -> str:
    """'Four.' and ' 4' both become 'four'."""
    word = text.strip().strip(".!?,").lower()
    return DIGIT_WORDS[int(word)] if word.isdigit() else word


@pytest.mark.slow
def test_converted_model_transcribes_spoken_digits(converted: Path) -> None:
    model, processor = whisper_ctranslate2.load_whisper_tiny_en(converted)
    waves = [read_clip(name).numpy() for name in DIGIT_CLIPS]
    features = processor(waves, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        tokens = model.generate(features.input_features)
    texts = processor.batch_decode(tokens, skip_special_tokens=True)
    assert [spoken_digit(text) for text in texts] == list(DIGIT_CLIPS.values()), texts


@pytest.mark.slow
def test_encoder_outputs_identical_after_save_and_load(converted: Path) -> None:
    in_memory, processor = whisper_from_ctranslate2(packaged_model_dir())
    reloaded = WhisperForConditionalGeneration.from_pretrained(converted).eval()
    wave = read_clip("0_jackson_0").numpy()
    features = processor(wave, sampling_rate=SAMPLING_RATE, return_tensors="pt").input_features
    with torch.no_grad():
        expected = in_memory.model.encoder(features).last_hidden_state
        actual = reloaded.model.encoder(features).last_hidden_state
    assert torch.equal(actual, expected)
