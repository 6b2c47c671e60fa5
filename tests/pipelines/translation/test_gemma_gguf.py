"""Tests for pipelines.translation.gemma_gguf: the converted-model cache, and the real conversion.

The cache tests stand a fake package and converter in for the real ones (seconds, no weights).
The slow tests convert the real Gemma-3-270M GGUF once (about a minute; later runs reuse
`~/.cache/peftsuite/gemma-3-270m-hf`) and check that the result is the pretrained model: its
parameter count, and greedy answers a 270M base model gets right.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pipelines.translation import gemma_gguf
from pipelines.translation.gemma_gguf import MANIFEST, gemma3_270m_folder, is_complete_cache

GEMMA3_270M_PARAMETERS = 268_098_176  # embeddings tied with the output layer, counted once


@pytest.fixture
def fake_conversion(monkeypatch):
    """A package whose 'GGUF file' is a few bytes, and a converter writing two small files."""
    calls = []

    def assemble(path: Path) -> Path:
        path.parent.mkdir(parents=True)
        path.write_bytes(b"GGUF")
        return path

    def convert(gguf_path: Path, output_dir: Path) -> Path:
        calls.append(Path(gguf_path).read_bytes())
        if getattr(convert, "fail", False):
            raise RuntimeError("conversion failed")
        output_dir.mkdir()
        (output_dir / "config.json").write_text("{}")
        (output_dir / "model.safetensors").write_bytes(b"weights")
        return output_dir

    package = SimpleNamespace(EXPECTED_SHA256="sha-1", MODEL_NAME="model.gguf", assemble=assemble)
    monkeypatch.setattr(gemma_gguf, "weights_package", lambda: package)
    monkeypatch.setattr(gemma_gguf, "convert_gguf_folder", convert)
    return SimpleNamespace(package=package, calls=calls, convert=convert)


def test_first_call_converts_and_later_calls_reuse_the_cache(fake_conversion, tmp_path):
    target = tmp_path / "gemma"
    assert gemma3_270m_folder(target) == target
    assert gemma3_270m_folder(target) == target

    assert fake_conversion.calls == [b"GGUF"]
    assert is_complete_cache(target, "sha-1")
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["files"] == {"config.json": 2, "model.safetensors": 7}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gemma"]  # nothing left beside


@pytest.mark.parametrize("damage", ["truncated file", "missing manifest", "other gguf"])
def test_incomplete_or_stale_cache_is_rebuilt(fake_conversion, tmp_path, damage):
    target = tmp_path / "gemma"
    gemma3_270m_folder(target)
    if damage == "truncated file":
        (target / "model.safetensors").write_bytes(b"w")
    elif damage == "missing manifest":
        (target / MANIFEST).unlink()
    else:
        fake_conversion.package.EXPECTED_SHA256 = "sha-2"
    assert not is_complete_cache(target, fake_conversion.package.EXPECTED_SHA256)

    gemma3_270m_folder(target)

    assert len(fake_conversion.calls) == 2
    assert is_complete_cache(target, fake_conversion.package.EXPECTED_SHA256)


def test_failed_conversion_leaves_no_cache_and_no_temporary_folder(fake_conversion, tmp_path):
    fake_conversion.convert.fail = True
    with pytest.raises(RuntimeError, match="conversion failed"):
        gemma3_270m_folder(tmp_path / "gemma")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def gemma3_270m():
    """A fresh load per test (seconds, from the cache): tests inject methods into it."""
    from pipelines.translation.backbones import build_translation_model

    return build_translation_model("gemma3_270m")


def greedy_continuation(backbone, prompt: str, new_tokens: int = 8) -> str:
    inputs = backbone.tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        output = backbone.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
    return backbone.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :])


@pytest.mark.slow
def test_converted_gemma3_270m_is_the_pretrained_model(gemma3_270m):
    assert gemma3_270m.architecture == "causal"
    assert is_complete_cache(gemma3_270m_folder(), gemma_gguf.weights_package().EXPECTED_SHA256)
    model = gemma3_270m.model
    assert sum(p.numel() for p in model.parameters()) == GEMMA3_270M_PARAMETERS
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert not hasattr(model.config, "quantization_config")
    assert "Paris" in greedy_continuation(
        gemma3_270m, "Question: What is the capital of France?\nAnswer:"
    )


@pytest.mark.slow
def test_converted_gemma3_270m_translates_a_trivial_sentence_from_the_default_prompt(gemma3_270m):
    from pipelines.translation.collate import TranslationCollator
    from pipelines.translation.lightning_module import PeftTranslator
    from pipelines.translation.prompts import PromptTemplate
    from shared.inject import inject_method

    collate = TranslationCollator(
        gemma3_270m.tokenizer, "causal", PromptTemplate(), "English", "French", 64, 64
    )
    pairs = [
        {"source": "Good morning, my friend.", "target": "Bonjour, mon ami."},
        {"source": "I love you.", "target": "Je t'aime."},
    ]
    model, report = inject_method(gemma3_270m.model, {"name": "lora"})  # LoRA starts as a no-op
    translator = PeftTranslator(
        model,
        report,
        tokenizer=gemma3_270m.tokenizer,
        architecture="causal",
        learning_rate=1e-3,
        max_new_tokens=16,
    )
    with torch.no_grad():
        hypotheses, _ = translator.translate(collate(pairs)["generation_inputs"])
    # a 270M base model without fine-tuning: these two it gets right (and e.g. "Thank you" not)
    assert "Bonjour" in hypotheses[0] and "aime" in hypotheses[1]
    assert all("\n" not in hypothesis for hypothesis in hypotheses)
