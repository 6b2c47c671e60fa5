"""Tests for shared.inject's error messages: each names the config field at fault and what
would be right, before any model is changed."""

from __future__ import annotations

import re

import pytest
from tiny_models import TINY_MODEL_CASES, method_mapping, tiny_random_bert_classifier
from torch import nn

from shared.inject import inject_method
from shared.methods import get_method, method_names

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Methods without a target_modules of their own: they train everything, the head only, or a
# soft prompt, so no module pattern applies to them.
NO_TARGETS = {"full", "linear_probe", "prompt_tuning"}
TARGETED = [name for name in method_names() if name not in NO_TARGETS]


def test_unknown_method_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"method\.name: unknown method 'lorra'") as error:
        inject_method(tiny_random_bert_classifier(), {"name": "lorra"})
    for name in method_names():
        assert repr(name) in str(error.value)


def test_get_method_rejects_an_unknown_name_the_same_way():
    with pytest.raises(ValueError, match=r"method\.name: unknown method 'nope'; choose one of"):
        get_method("nope")


def test_missing_method_name_is_reported():
    with pytest.raises(ValueError, match=r"method\.name is missing; choose one of \['adalora'"):
        inject_method(tiny_random_bert_classifier(), {"r": 8})


def test_unknown_config_field_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"method\.rnak: unknown field for method 'lora'") as error:
        inject_method(tiny_random_bert_classifier(), {"name": "lora", "rnak": 4})
    assert "'r'" in str(error.value), "the valid fields should be listed"


def test_field_of_another_method_is_unknown_here():
    with pytest.raises(ValueError, match=r"method\.block_size: unknown field for method 'lora'"):
        inject_method(tiny_random_bert_classifier(), {"name": "lora", "block_size": 4})


@pytest.mark.parametrize("method", TARGETED)
def test_target_modules_matching_nothing_names_the_field(method):
    with pytest.raises(ValueError, match=r"method\.target_modules=.*no_such_layer"):
        inject_method(
            tiny_random_bert_classifier(), method_mapping(method, target_modules=["no_such_layer"])
        )


def test_target_regex_matching_nothing_shows_what_names_look_like():
    pattern = r".*\.no_such_layer"
    with pytest.raises(ValueError) as error:
        inject_method(tiny_random_bert_classifier(), {"name": "lora", "target_modules": pattern})
    message = str(error.value)
    assert f"method.target_modules={pattern!r} matched no module that lora can adapt" in message
    assert "Module names look like ['bert', 'bert.embeddings'" in message


@pytest.mark.parametrize("family", list(TINY_MODEL_CASES))
def test_head_modules_naming_a_missing_module_is_rejected(family):
    case = TINY_MODEL_CASES[family]
    missing = "no_such_head"  # not `head`: that is the ViT's real head
    model_type = type(case.build()).__name__
    expected = rf"method\.head_modules: no module named \['{missing}'\] in {model_type}"
    with pytest.raises(ValueError, match=expected):
        inject_method(case.build(), {"name": "lora"}, head_modules=[missing])
    with pytest.raises(ValueError, match=expected):
        inject_method(case.build(), {"name": "lora", "head_modules": [missing]})


def test_head_modules_in_the_config_win_over_the_argument():
    _, report = inject_method(
        tiny_random_bert_classifier(),
        {"name": "linear_probe", "head_modules": ["bert.pooler"]},
        head_modules=["classifier"],
    )
    assert report.head_modules == ["bert.pooler"]
    assert report.trainable_parameters == 32 * 32 + 32


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"method\.family: unknown 'gpt'; choose from \[.*'bert_encoder'"
    ):
        inject_method(tiny_random_bert_classifier(), {"name": "lora", "family": "gpt"})


def test_model_of_unknown_family_asks_for_family_or_targets():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    message = re.escape("set method.family to one of") + r".* or give method\.target_modules"
    with pytest.raises(ValueError, match=message):
        inject_method(model, {"name": "lora"}, head_modules=["2"])


def test_model_without_a_recognisable_head_asks_for_head_modules():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(
        ValueError, match=r"cannot find the task head of Sequential; set method\.head_modules"
    ):
        inject_method(model, {"name": "lora", "target_modules": ["0"]})


def test_adalora_without_total_step_asks_for_it():
    with pytest.raises(ValueError, match=r"method\.total_step must be set for adalora"):
        inject_method(tiny_random_bert_classifier(), {"name": "adalora"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "lora", "r": 0}, r"method\.r must be at least 1, got 0"),
        ({"name": "bitfit", "learning_rate": 0}, r"method\.learning_rate must be positive, got 0"),
        ({"name": "adapter_houlsby", "activation": "tanh"}, r"method\.activation: unknown 'tanh'"),
        (
            {"name": "adapter_pfeiffer", "reduction_factor": 0},
            r"method\.bottleneck_dim and method\.reduction_factor must be >= 1",
        ),
    ],
)
def test_invalid_field_values_are_rejected_with_the_field_name(fields, message):
    with pytest.raises(ValueError, match=message):
        inject_method(tiny_random_bert_classifier(), fields)


def test_a_misspelt_name_among_correct_targets_is_named():
    method = {"name": "lora", "target_modules": ["query", "vaule"]}
    with pytest.raises(ValueError, match=r"method.target_modules=.*: \['vaule'\] match no module"):
        inject_method(tiny_random_bert_classifier(), method)
