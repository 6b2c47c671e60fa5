"""Tests for shared.architectures: family detection, module matching, and where presets point."""

from __future__ import annotations

import re

import pytest
from tiny_models import (
    tiny_random_bert_classifier,
    tiny_random_efficientnet_classifier,
    tiny_random_vit,
)
from torch import nn

from shared.architectures import PRESETS, detect_family, matching_module_names

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROLES = ("attention", "ia3", "ia3_feedforward", "adapter_attention", "adapter_feedforward")
BERT_LAYERS = ("bert.encoder.layer.0", "bert.encoder.layer.1")


@pytest.mark.parametrize(
    ("build", "family"),
    [
        (tiny_random_bert_classifier, "bert_encoder"),
        (tiny_random_efficientnet_classifier, "timm_cnn"),
        (tiny_random_vit, "timm_vit"),
    ],
    ids=["bert", "timm-cnn", "timm-vit"],
)
def test_detect_family(build, family):
    assert detect_family(build()) == family


def test_unknown_model_asks_for_method_family():
    with pytest.raises(ValueError) as error:
        detect_family(nn.Sequential(nn.Linear(2, 2)))
    message = str(error.value)
    assert (
        "cannot tell the architecture family of Sequential (torch.nn.modules.container)" in message
    )
    assert f"set method.family to one of {sorted(PRESETS)}" in message


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_every_preset_role_is_a_valid_regex(family):
    preset = PRESETS[family]
    assert preset.family == family
    for role in ROLES:
        re.compile(getattr(preset, role))


def test_regex_must_match_the_whole_module_name():
    model = tiny_random_bert_classifier()
    assert matching_module_names(model, r"bert\.pooler") == ["bert.pooler"]
    assert matching_module_names(model, r"pooler") == []  # a regex is not a substring search


def test_suffix_list_matches_whole_name_components_only():
    model = tiny_random_bert_classifier()
    assert matching_module_names(model, ["pooler.dense"]) == ["bert.pooler.dense"]
    assert matching_module_names(model, ["ooler.dense"]) == []
    assert matching_module_names(model, ["classifier"]) == ["classifier"]
    assert matching_module_names(model, []) == []


def test_bert_preset_places_each_role():
    model, preset = tiny_random_bert_classifier(), PRESETS["bert_encoder"]

    def matches(role: str) -> list[str]:
        return matching_module_names(model, getattr(preset, role))

    assert matches("attention") == [
        f"{layer}.attention.self.{name}" for layer in BERT_LAYERS for name in ("query", "value")
    ]
    assert matches("ia3") == [
        f"{layer}.{name}"
        for layer in BERT_LAYERS
        for name in ("attention.self.key", "attention.self.value", "output.dense")
    ]
    assert matches("ia3_feedforward") == [f"{layer}.output.dense" for layer in BERT_LAYERS]
    assert matches("adapter_attention") == [
        f"{layer}.attention.output.dense" for layer in BERT_LAYERS
    ]
    assert matches("adapter_feedforward") == [f"{layer}.output.dense" for layer in BERT_LAYERS]


def test_timm_cnn_preset_takes_the_convolutions_inside_blocks_only():
    model = tiny_random_efficientnet_classifier()
    matched = matching_module_names(model, PRESETS["timm_cnn"].attention)
    block_convolutions = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and name.startswith("blocks.")
    ]
    assert matched == block_convolutions
    assert "conv_stem" not in matched and "conv_head" not in matched
    assert "blocks.3.0.conv_dw" in matched, "depthwise convs are filtered per method, not here"
    assert matching_module_names(model, PRESETS["timm_cnn"].adapter_feedforward) == [
        f"blocks.{stage}.0" for stage in range(5)
    ]


def test_timm_vit_preset_takes_the_fused_qkv_projections():
    model = tiny_random_vit()
    depth = len(model.blocks)
    preset = PRESETS["timm_vit"]
    assert matching_module_names(model, preset.attention) == [
        f"blocks.{index}.attn.qkv" for index in range(depth)
    ]
    assert matching_module_names(model, preset.adapter_feedforward) == [
        f"blocks.{index}.mlp.fc2" for index in range(depth)
    ]
