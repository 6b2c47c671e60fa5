"""Tests for shared.checkpoint: save only what training changed, restore it exactly, merge.

Every method is trained for two steps in train mode on a tiny random model first, so adapters
are no longer at their no-op initialisation and the CNN's BatchNorm statistics have moved.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from peft import PeftModel
from peft.tuners.tuners_utils import BaseTunerLayer
from peft.utils import ModulesToSaveWrapper
from safetensors import safe_open
from safetensors.torch import save_file
from tiny_models import (
    TINY_MODEL_CASES,
    applicable_pairs,
    logits,
    method_mapping,
    train_adapter,
    trained_adapter,
)
from torch import nn

from shared.checkpoint import (
    METHOD_KEY,
    adapter_state_dict,
    load_adapter_state,
    merge_adapter,
    read_method_config,
    restore_adapter,
    save_adapter,
)
from shared.inject import inject_method
from shared.methods import get_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MERGEABLE = [
    pytest.param(family, method, id=f"{family}-{method}")
    for family, method in applicable_pairs()
    if get_method(method).merge is not None
]
NOT_MERGEABLE = [
    pytest.param(family, method, id=f"{family}-{method}")
    for family, method in applicable_pairs()
    if get_method(method).merge is None
]
APPLICABLE = [pytest.param(f, m, id=f"{f}-{m}") for f, m in applicable_pairs()]


def file_keys(path) -> set[str]:
    with safe_open(str(path), framework="pt") as handle:
        return set(handle.keys())


def is_batchnorm_statistic(model: nn.Module, buffer_name: str) -> bool:
    owner = model.get_submodule(buffer_name.rpartition(".")[0])
    return isinstance(owner, nn.modules.batchnorm._BatchNorm)


def forward_hook_count(model: nn.Module) -> int:
    return sum(len(module._forward_hooks) for module in model.modules())


@pytest.mark.parametrize(("family", "method"), APPLICABLE)
def test_adapter_file_holds_exactly_the_trained_tensors(family, method, tmp_path):
    adapter = trained_adapter(family, method)
    model, path = adapter.model, tmp_path / "adapter.safetensors"

    size = save_adapter(model, adapter.report, path)

    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    moved_batchnorm_statistics = {
        name
        for name, b in model.named_buffers()
        if is_batchnorm_statistic(model, name)
        and not torch.equal(b, adapter.buffers_before_training[name])
    }
    keys = file_keys(path)
    assert not keys & frozen, "a frozen backbone weight was saved"
    assert keys == trainable | moved_batchnorm_statistics
    if family == "cnn":
        assert any(key.endswith(".running_mean") for key in keys), "BatchNorm statistics missing"
    assert size == path.stat().st_size
    assert list(tmp_path.iterdir()) == [path], "saving must leave no temporary file behind"
    assert set(adapter_state_dict(model, adapter.report)) == keys


@pytest.mark.parametrize(("family", "method"), APPLICABLE)
def test_restore_onto_a_fresh_base_reproduces_outputs_exactly(family, method, tmp_path):
    adapter = trained_adapter(family, method)
    path = tmp_path / "adapter.safetensors"
    save_adapter(adapter.model, adapter.report, path)

    restored, restored_report = restore_adapter(TINY_MODEL_CASES[family].build(), path)
    restored.eval()

    with torch.no_grad():
        assert torch.equal(logits(restored, adapter.inputs), adapter.outputs)
    assert restored_report.method == method
    assert restored_report.trainable_parameters == adapter.report.trainable_parameters
    assert read_method_config(path) == json.loads(json.dumps(adapter.report.method_config))


@pytest.mark.parametrize(("family", "method"), MERGEABLE)
def test_merge_keeps_outputs(family, method):
    adapter = trained_adapter(family, method)
    model = copy.deepcopy(adapter.model)

    merged = merge_adapter(model, adapter.report).eval()

    with torch.no_grad():
        torch.testing.assert_close(
            logits(merged, adapter.inputs), adapter.outputs, rtol=0, atol=1e-5
        )


@pytest.mark.parametrize(
    ("family", "method"),
    [
        pytest.param(*pair, id="-".join(pair))
        for pair in applicable_pairs()
        if get_method(pair[1]).merge is not None
    ],
)
def test_merge_leaves_the_plain_base_architecture(family, method):
    adapter = trained_adapter(family, method)
    model = copy.deepcopy(adapter.model)

    merged = merge_adapter(model, adapter.report)

    fresh = TINY_MODEL_CASES[family].build()
    assert not isinstance(merged, PeftModel)
    assert not any(isinstance(m, (BaseTunerLayer, ModulesToSaveWrapper)) for m in merged.modules())
    assert forward_hook_count(merged) == forward_hook_count(fresh)
    added = set(merged.state_dict()) - set(fresh.state_dict())
    assert set(fresh.state_dict()) <= set(merged.state_dict())
    if method == "ssf":  # SSF's shift needs a bias to fold into; bias-free layers get one
        bias_free = {f"{n}.bias" for n, m in fresh.named_modules() if getattr(m, "bias", 0) is None}
        assert added <= bias_free
    else:
        assert not added


@pytest.mark.parametrize(("family", "method"), NOT_MERGEABLE)
def test_merging_a_method_that_cannot_merge_names_it(family, method):
    adapter = trained_adapter(family, method)
    with pytest.raises(ValueError, match=rf"method '{method}' cannot be merged"):
        merge_adapter(adapter.model, adapter.report)


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_low_rank_on_a_depthwise_convolution_merges_or_says_it_cannot(method):
    # r=128 divides the 128 groups of blocks.3.0.conv_dw; conv_pwl keeps the injection valid
    # should grouped convolutions be skipped instead.
    adapter = train_adapter("cnn", method, r=128, target_modules=["conv_dw", "conv_pwl"])
    model, report = adapter.model, adapter.report

    if "blocks.3.0.conv_dw" not in report.adapted_modules:
        assert "blocks.3.0.conv_dw" in report.skipped_modules
    elif not report.mergeable:
        with pytest.raises(ValueError, match=method):
            merge_adapter(model, report)
        return
    merged = merge_adapter(model, report).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            logits(merged, adapter.inputs), adapter.outputs, atol=1e-5, rtol=0
        )


def test_reading_a_file_that_is_no_adapter_says_so(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"weight": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match=rf"not a peftsuite adapter \(no {METHOD_KEY} metadata\)"):
        read_method_config(path)


def test_loading_an_adapter_of_another_method_names_a_stray_tensor(tmp_path):
    adapter = trained_adapter("bert", "lora")
    path = tmp_path / "lora.safetensors"
    save_adapter(adapter.model, adapter.report, path)
    other, _ = inject_method(TINY_MODEL_CASES["bert"].build(), method_mapping("ia3"))

    with pytest.raises(ValueError, match=r"tensors have no place in this model \(e\.g\. '.*lora_"):
        load_adapter_state(other, path)


def test_loading_an_adapter_of_another_rank_names_the_shape_mismatch(tmp_path):
    adapter = trained_adapter("bert", "lora")
    path = tmp_path / "lora.safetensors"
    save_adapter(adapter.model, adapter.report, path)
    other, _ = inject_method(TINY_MODEL_CASES["bert"].build(), method_mapping("lora", r=4))

    with pytest.raises(
        ValueError, match=r"lora_A\.default\.weight has shape \(8, 32\), the model has \(4, 32\)"
    ):
        load_adapter_state(other, path)
