"""Tests for pipelines.speech.whisper_ctranslate2's parser, on tiny synthetic `model.bin` files.

The real conversions are tested in test_offline_whisper.py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from pipelines.speech.whisper_ctranslate2 import read_ctranslate2_model

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


def test_a_model_split_in_parts_reads_like_the_whole_file(tmp_path: Path) -> None:
    whole = tmp_path / "model.bin"
    write_model_bin(whole, SYNTHETIC, {"decoder/projection/weight": "encoder/weight"})
    data = whole.read_bytes()
    parts = [tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"]
    parts[0].write_bytes(data[:37])
    parts[1].write_bytes(data[37:])
    joined, expected = read_ctranslate2_model(parts), read_ctranslate2_model(whole)
    assert joined.aliases == expected.aliases
    assert all(torch.equal(joined.variables[n], t) for n, t in expected.variables.items())


def test_a_missing_part_is_reported_as_truncation_naming_the_parts(tmp_path: Path) -> None:
    whole = tmp_path / "model.bin"
    write_model_bin(whole, SYNTHETIC, {})
    part = tmp_path / "model.bin.part1"
    part.write_bytes(whole.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"model\.bin\.part1: truncated"):
        read_ctranslate2_model([part])
