"""Tests for shared.targets: which modules a method takes, and why it skips the others."""

from __future__ import annotations

import pytest
import torch
from tiny_models import (
    method_mapping,
    tiny_random_bert_classifier,
    tiny_random_efficientnet_classifier,
    tiny_random_gemma3,
)
from torch import nn

from shared.checkpoint import merge_adapter
from shared.inject import inject_method
from shared.targets import accepts, resolve_targets, ungrouped

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BERT_HEAD = 32 * 3 + 3
DEPTHWISE = {"blocks.3.0.conv_dw": 128, "blocks.4.0.conv_dw": 192}


def depthwise(groups: int = 4) -> nn.Conv2d:
    return nn.Conv2d(groups, groups, kernel_size=3, groups=groups)


@pytest.mark.parametrize("method", ["lora", "dora", "adalora"])
def test_depthwise_convolutions_are_skipped_with_their_reason(method):
    reason = "grouped convolution (groups={groups}) is not supported"
    _, report = inject_method(tiny_random_efficientnet_classifier(), method_mapping(method))
    assert report.skipped_modules == {
        name: reason.format(groups=groups) for name, groups in DEPTHWISE.items()
    }
    assert not set(DEPTHWISE) & set(report.adapted_modules)
    assert "blocks.3.0.conv_pw" in report.adapted_modules


def test_oft_skips_convolutions_larger_than_one_by_one():
    model = tiny_random_efficientnet_classifier()
    _, report = inject_method(model, method_mapping("oft"))
    modules = dict(tiny_random_efficientnet_classifier().named_modules())
    for name, reason in report.skipped_modules.items():
        assert modules[name].kernel_size != (1, 1)
        assert reason == "peft's OFT is exact only on 1x1 convolutions"
    assert all(modules[name].kernel_size == (1, 1) for name in report.adapted_modules)
    assert "blocks.0.0.conv" in report.skipped_modules


def test_oft_block_size_that_divides_no_layer_is_reported():
    with pytest.raises(
        ValueError, match=r"input width 32 is not divisible by method\.block_size=5"
    ):
        inject_method(tiny_random_bert_classifier(), method_mapping("oft", block_size=5))


def test_target_modules_as_suffixes_override_the_preset():
    _, report = inject_method(
        tiny_random_bert_classifier(), method_mapping("lora", r=4, target_modules=["key"])
    )
    assert report.adapted_modules == [
        "bert.encoder.layer.0.attention.self.key",
        "bert.encoder.layer.1.attention.self.key",
    ]
    assert report.trainable_parameters == 2 * 4 * (32 + 32) + BERT_HEAD


def test_target_modules_as_regex_override_the_preset():
    pattern = r"bert\.encoder\.layer\.1\.(attention\.self\.query|intermediate\.dense)"
    _, report = inject_method(
        tiny_random_bert_classifier(), method_mapping("lora", r=4, target_modules=pattern)
    )
    assert report.adapted_modules == [
        "bert.encoder.layer.1.attention.self.query",
        "bert.encoder.layer.1.intermediate.dense",
    ]
    assert report.trainable_parameters == 4 * (32 + 32) + 4 * (32 + 64) + BERT_HEAD


def test_overridden_ia3_targets_still_scale_feedforward_inputs():
    # output.dense matches the attention output (scaled at its 32 outputs) and the second
    # feed-forward layer (scaled at its 64 inputs).
    _, report = inject_method(
        tiny_random_bert_classifier(), method_mapping("ia3", target_modules=["output.dense"])
    )
    assert len(report.adapted_modules) == 4
    assert report.trainable_parameters == 2 * (32 + 64) + BERT_HEAD


def test_target_modules_override_on_the_cnn():
    _, report = inject_method(
        tiny_random_efficientnet_classifier(), method_mapping("lora", target_modules=["conv_pwl"])
    )
    assert report.adapted_modules == [f"blocks.{stage}.0.conv_pwl" for stage in range(1, 5)]
    assert report.skipped_modules == {}


@pytest.mark.parametrize("method", ["lora", "ssf", "adapter_pfeiffer", "bitfit"])
def test_the_head_is_never_a_target_even_when_the_pattern_matches_it(method):
    model, report = inject_method(
        tiny_random_bert_classifier(),
        method_mapping(method, target_modules=["query", "classifier"]),
    )
    assert "classifier" not in report.adapted_modules
    assert report.adapted_modules == [
        "bert.encoder.layer.0.attention.self.query",
        "bert.encoder.layer.1.attention.self.query",
    ]
    head = [p for name, p in model.named_parameters() if "classifier" in name and p.requires_grad]
    assert sum(p.numel() for p in head) == BERT_HEAD


def test_any_model_takes_a_method_given_targets_and_head():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    _, report = inject_method(
        model, method_mapping("lora", r=2, target_modules=["0"]), head_modules=["2"]
    )
    assert report.family is None
    assert report.adapted_modules == ["0"]
    assert report.trainable_parameters == 2 * (4 + 8) + (8 * 2 + 2)


def test_resolve_targets_returns_targets_and_skipped_with_reasons():
    model = nn.Sequential(nn.Linear(4, 4), depthwise(), nn.Linear(4, 2))
    targets, skipped = resolve_targets(
        model, r"\d", accepts(nn.Linear), method="lora", exclude=["2"]
    )
    assert targets == ["0"]
    assert skipped == {"1": "Conv2d is not a supported layer type (Linear)"}


def test_resolve_targets_error_lists_skip_reasons():
    model = nn.Sequential(depthwise(), nn.Linear(4, 2))
    with pytest.raises(ValueError) as error:
        resolve_targets(model, ["0"], ungrouped(accepts(nn.Conv2d)), method="ia3", exclude=[])
    message = str(error.value)
    assert "method.target_modules=['0'] matched no module that ia3 can adapt" in message
    assert "skipped: {'0': 'grouped convolution (groups=4) is not supported'}" in message


def test_layer_checks():
    check = accepts(nn.Linear, nn.Conv2d)
    assert check(nn.Linear(2, 2)) is None
    assert check(nn.LayerNorm(2)) == "LayerNorm is not a supported layer type (Linear, Conv2d)"
    assert ungrouped(check)(depthwise()) == "grouped convolution (groups=4) is not supported"
    assert ungrouped(check)(nn.Conv2d(4, 4, 1)) is None


@pytest.mark.parametrize("method", ["ssf", "lora"])
def test_a_tied_output_layer_is_never_adapted_so_merging_keeps_the_embeddings(method):
    model = tiny_random_gemma3()
    embeddings = model.model.embed_tokens.weight.detach().clone()
    settings = {"name": method, "target_modules": ["lm_head", "q_proj", "v_proj"]}
    model, report = inject_method(model, settings, head_modules=[])
    assert "lm_head" not in report.adapted_modules
    assert "tied" in report.skipped_modules["lm_head"]
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.1)
    tokens = torch.arange(8).reshape(1, 8)
    expected = model(tokens).logits
    merged = merge_adapter(model, report)
    assert torch.equal(merged.get_input_embeddings().weight, embeddings)
    torch.testing.assert_close(merged(tokens).logits, expected, atol=1e-4, rtol=1e-4)
