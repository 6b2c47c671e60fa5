"""Presets for the families beyond BERT and timm: Whisper and wav2vec2-style encoders, decoder
LMs, seq2seq translation models (T5 and BART-style), MONAI nets.

Each tiny model is randomly initialised (no pretrained weights): the test checks that the
preset finds the intended layers, the right head stays trainable, and the adapted model runs.
"""

import re

import pytest
import torch
from monai.networks.nets import DenseNet
from tiny_models import (
    random_waveform_batch,
    tiny_random_marian,
    tiny_random_t5,
    tiny_random_wav2vec2_classifier,
    tiny_random_whisper_classifier,
)
from transformers import LlamaConfig, LlamaForCausalLM

from shared.architectures import PRESETS, matching_module_names
from shared.inject import inject_method


def tiny_random_whisper_with_inputs():
    return tiny_random_whisper_classifier(), {"input_features": torch.randn(2, 8, 32)}


def tiny_random_wav2vec2_with_inputs():
    return tiny_random_wav2vec2_classifier(), random_waveform_batch()[0]


def tiny_random_llama():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config), {"input_ids": torch.randint(0, 100, (2, 6))}


def tiny_random_monai_densenet():
    torch.manual_seed(0)
    model = DenseNet(
        spatial_dims=2,
        in_channels=3,
        out_channels=3,
        init_features=8,
        growth_rate=4,
        block_config=(2, 2),
    )
    return model, torch.randn(2, 3, 32, 32)


def with_seq2seq_inputs(build):
    def build_with_inputs():
        generator = torch.Generator().manual_seed(0)
        inputs = {
            "input_ids": torch.randint(3, 100, (2, 6), generator=generator),
            "decoder_input_ids": torch.randint(3, 100, (2, 4), generator=generator),
        }
        return build(), inputs

    return build_with_inputs


FAMILIES = {
    "whisper": (
        tiny_random_whisper_with_inputs,
        ["projector", "classifier"],
        r"self_attn\.(q|v)_proj",
    ),
    "wav2vec2_encoder": (
        tiny_random_wav2vec2_with_inputs,
        ["projector", "classifier"],
        r"encoder\.layers\.\d+\.attention\.(q|v)_proj$",
    ),
    "decoder_lm": (tiny_random_llama, [], r"self_attn\.(q|v)_proj"),
    "monai_net": (tiny_random_monai_densenet, ["class_layers.out"], r"layers\.conv\d"),
    "seq2seq_t5": (
        with_seq2seq_inputs(tiny_random_t5),
        [],
        r"(SelfAttention|EncDecAttention)\.(q|v)$",
    ),
    "seq2seq_bart": (
        with_seq2seq_inputs(tiny_random_marian),
        [],
        r"(self_attn|encoder_attn)\.(q|v)_proj$",
    ),
}


def run(model, inputs):
    output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    return getattr(output, "logits", output)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("method", ["lora", "ia3", "adapter_houlsby", "adapter_pfeiffer", "ssf"])
def test_preset_adapts_the_intended_layers_and_the_model_runs(family, method):
    build, heads, lora_layers = FAMILIES[family]
    base, inputs = build()
    before = run(base.eval(), inputs)
    model, report = inject_method(base, {"name": method})
    assert report.family == family and report.head_modules == heads
    assert report.adapted_modules
    if method == "lora":
        assert all(re.search(lora_layers, n) for n in report.adapted_modules)
    # every method is initialised as the identity, so the adapted model starts as the base
    torch.testing.assert_close(run(model.eval(), inputs), before)


@pytest.mark.parametrize("family", ["seq2seq_t5", "seq2seq_bart"])
def test_seq2seq_lora_reaches_encoder_self_decoder_self_and_cross_attention(family):
    build, _, _ = FAMILIES[family]
    _, report = inject_method(build()[0], {"name": "lora"})
    cross = "EncDecAttention" if family == "seq2seq_t5" else "encoder_attn"
    assert any(name.startswith(("encoder.", "model.encoder.")) for name in report.adapted_modules)
    decoder = [n for n in report.adapted_modules if n.startswith(("decoder.", "model.decoder."))]
    assert any(cross in name for name in decoder)
    assert any(cross not in name for name in decoder)


def test_wav2vec2_preset_places_each_role_in_the_transformer_layers_only():
    model, preset = tiny_random_wav2vec2_classifier(), PRESETS["wav2vec2_encoder"]
    layers = ("wav2vec2.encoder.layers.0", "wav2vec2.encoder.layers.1")

    def matches(role: str) -> set[str]:
        return set(matching_module_names(model, getattr(preset, role)))

    def in_every_layer(*names: str) -> set[str]:
        return {f"{layer}.{name}" for layer in layers for name in names}

    assert matches("attention") == in_every_layer("attention.q_proj", "attention.v_proj")
    assert matches("ia3") == in_every_layer(
        "attention.k_proj", "attention.v_proj", "feed_forward.output_dense"
    )
    assert matches("ia3_feedforward") == in_every_layer("feed_forward.output_dense")
    assert matches("adapter_attention") == in_every_layer("attention.out_proj")
    assert matches("adapter_feedforward") == in_every_layer("feed_forward.output_dense")
