"""Tests for shared.inject: every registered method on a tiny random BERT, CNN and ViT.

For each (family, method) pair the expected trainable parameter count is computed here, from the
layer shapes of a fresh copy of the model and the parameter shapes each method's paper (or peft's
implementation of it) defines; it is never read back from the report. Then: exactly the method's
own parameters and the task head train, and an optimiser step moves those and nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from tiny_models import (
    NOT_APPLICABLE,
    TINY_MODEL_CASES,
    applicable_pairs,
    method_mapping,
    trained_adapter,
)
from torch import nn

from shared.inject import InjectionReport, inject_method
from shared.methods import get_method, method_names

pytestmark = pytest.mark.usefixtures("one_torch_thread")

APPLICABLE = [
    pytest.param(family, method, id=f"{family}-{method}") for family, method in applicable_pairs()
]
NORM_LAYERS = (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)
EXPECTED_FAMILY = {"bert": "bert_encoder", "cnn": "timm_cnn", "vit": "timm_vit"}
# IA3 rescales the *input* of a transformer's second feed-forward layer and of a CNN's
# pointwise convolutions (their outputs feed BatchNorms), and the *output* of every other layer
# it adapts (keys, values, fused qkv).
FEEDFORWARD_SECOND_LAYER = re.compile(
    r".*\.layer\.\d+\.output\.dense|blocks\.\d+\.mlp\.fc2|blocks\.\d+\.\d+\.conv_pwl?"
)


@dataclass(frozen=True)
class LayerShape:
    """A Linear or Conv2d layer's widths, as the methods' parameter shapes use them."""

    in_width: int
    out_width: int
    kernel_elements: int = 1
    groups: int = 1


def layer_shape(module: nn.Module) -> LayerShape:
    if isinstance(module, nn.Linear):
        return LayerShape(module.in_features, module.out_features)
    if isinstance(module, nn.Conv2d):
        kernel = math.prod(module.kernel_size)
        return LayerShape(module.in_channels, module.out_channels, kernel, module.groups)
    raise TypeError(f"no parameter formula for a {type(module).__name__}")


@dataclass(frozen=True)
class Injection:
    """What an expected count may use: a fresh, un-injected base and the report's choices."""

    base: nn.Module
    inputs: Any
    head: str
    report: InjectionReport

    @property
    def config(self) -> dict[str, Any]:
        return self.report.method_config

    def adapted_layers(self) -> Iterator[tuple[str, nn.Module]]:
        modules = dict(self.base.named_modules())
        for name in self.report.adapted_modules:
            yield name, modules[name]

    def head_parameters(self) -> int:
        return sum(p.numel() for p in self.base.get_submodule(self.head).parameters())

    def backbone_modules(self) -> Iterator[nn.Module]:
        for name, module in self.base.named_modules():
            if name and name != self.head and not name.startswith(self.head + "."):
                yield module

    def output_widths(self) -> dict[str, int]:
        """Channel count of each adapted module's output, measured by running the base."""
        widths: dict[str, int] = {}

        def record(name: str):
            def hook(_module, _inputs, output):
                output = output[0] if isinstance(output, tuple) else output
                widths[name] = output.shape[1] if output.dim() == 4 else output.shape[-1]

            return hook

        handles = [
            module.register_forward_hook(record(name)) for name, module in self.adapted_layers()
        ]
        with torch.no_grad():
            self.base(**self.inputs) if isinstance(self.inputs, dict) else self.base(self.inputs)
        for handle in handles:
            handle.remove()
        return widths


def near_square_factors(dimension: int) -> tuple[int, int]:
    """(m, n), m * n = dimension, m the largest divisor <= sqrt: LoKr's `factorization(d, -1)`."""
    m = max(d for d in range(1, math.isqrt(dimension) + 1) if dimension % d == 0)
    return m, dimension // m


LayerFormula = Callable[[str, LayerShape, dict[str, Any]], int]


def lora_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    # A: r x (in * k) (a k x k conv to r channels); B: out x r / groups (a 1 x 1 conv back).
    r = config["r"]
    return r * shape.in_width * shape.kernel_elements + shape.out_width * (r // shape.groups)


def dora_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    return lora_layer(name, shape, config) + shape.out_width  # plus one magnitude per output


def adalora_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    # P: r x (in * k), Lambda: r singular values, Q: out x r, all at the initial rank.
    r = config["init_r"]
    return r * shape.in_width * shape.kernel_elements + r + shape.out_width * r


def ia3_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    return shape.in_width if FEEDFORWARD_SECOND_LAYER.fullmatch(name) else shape.out_width


def loha_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    # Two rank-r pairs over the flattened weight, out x (in / groups * k).
    fan_in = shape.in_width // shape.groups * shape.kernel_elements
    return 2 * config["r"] * (shape.out_width + fan_in)


def lokr_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    # W = w1 (x) w2 with out = a * b and in / groups = c * d (near-square, a <= b, c <= d).
    # w1 (a x c) is a full matrix; w2 (b x d x k) is full unless r < max(b, d) / 2, then it is
    # the rank-r product (b x r)(r x d * k).
    r = config["r"]
    a, b = near_square_factors(shape.out_width)
    c, d = near_square_factors(shape.in_width // shape.groups)
    if r >= max(b, d) / 2:
        w2 = b * d * shape.kernel_elements
    else:
        w2 = r * b + r * d * shape.kernel_elements
    return a * c + w2


def oft_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    # One skew-symmetric block (b(b - 1) / 2 free entries) per block of the input dimension.
    block = config["block_size"]
    return shape.in_width * shape.kernel_elements // block * (block * (block - 1) // 2)


def vera_layer(name: str, shape: LayerShape, config: dict[str, Any]) -> int:
    return shape.out_width + config["r"]  # lambda_b (out) and lambda_d (r); A and B are frozen


def per_layer(formula: LayerFormula) -> Callable[[Injection], int]:
    def count(injection: Injection) -> int:
        layers = injection.adapted_layers()
        adapters = sum(formula(name, layer_shape(m), injection.config) for name, m in layers)
        return adapters + injection.head_parameters()

    return count


def full_count(injection: Injection) -> int:
    return sum(p.numel() for p in injection.base.parameters())


def bitfit_count(injection: Injection) -> int:
    biases = sum(
        module.bias.numel()
        for module in injection.backbone_modules()
        if isinstance(getattr(module, "bias", None), nn.Parameter)
    )
    return biases + injection.head_parameters()


def norm_tuning_count(injection: Injection) -> int:
    affine = sum(
        p.numel()
        for module in injection.backbone_modules()
        if isinstance(module, NORM_LAYERS)
        for p in module.parameters(recurse=False)
    )
    return affine + injection.head_parameters()


def ssf_count(injection: Injection) -> int:
    return 2 * sum(injection.output_widths().values()) + injection.head_parameters()


def bottleneck_count(injection: Injection) -> int:
    # down (width -> hidden) and up (hidden -> width), each with a bias.
    total = injection.head_parameters()
    for width in injection.output_widths().values():
        hidden = injection.config["bottleneck_dim"] or max(
            1, width // injection.config["reduction_factor"]
        )
        total += 2 * width * hidden + hidden + width
    return total


def prompt_tuning_count(injection: Injection) -> int:
    embedding_width = injection.base.get_input_embeddings().embedding_dim
    return injection.config["num_virtual_tokens"] * embedding_width + injection.head_parameters()


EXPECTED_TRAINABLE: dict[str, Callable[[Injection], int]] = {
    "full": full_count,
    "linear_probe": lambda injection: injection.head_parameters(),
    "bitfit": bitfit_count,
    "norm_tuning": norm_tuning_count,
    "ssf": ssf_count,
    "adapter_houlsby": bottleneck_count,
    "adapter_pfeiffer": bottleneck_count,
    "lora": per_layer(lora_layer),
    "dora": per_layer(dora_layer),
    "adalora": per_layer(adalora_layer),
    "ia3": per_layer(ia3_layer),
    "loha": per_layer(loha_layer),
    "lokr": per_layer(lokr_layer),
    "oft": per_layer(oft_layer),
    "vera": per_layer(vera_layer),
    "prompt_tuning": prompt_tuning_count,
}


def has_marker(*markers: str) -> Callable[[str, nn.Module], bool]:
    return lambda name, owner: any(marker in name for marker in markers)


# Which backbone parameters each method trains, by the method's parameter names (peft's
# documented prefixes for peft methods) or the layer that owns them.
TRAINS_BACKBONE_PARAMETER: dict[str, Callable[[str, nn.Module], bool]] = {
    "full": lambda name, owner: True,
    "linear_probe": lambda name, owner: False,
    "bitfit": lambda name, owner: name.endswith(".bias"),
    "norm_tuning": lambda name, owner: isinstance(owner, NORM_LAYERS),
    "ssf": has_marker(".ssf_scale", ".ssf_shift"),
    "adapter_houlsby": has_marker(".bottleneck_adapter."),
    "adapter_pfeiffer": has_marker(".bottleneck_adapter."),
    "lora": has_marker(".lora_A.", ".lora_B."),
    "dora": has_marker(".lora_A.", ".lora_B.", ".lora_magnitude_vector."),
    "adalora": has_marker(".lora_A.", ".lora_B.", ".lora_E."),
    "ia3": has_marker(".ia3_l."),
    "loha": has_marker(".hada_w1_a.", ".hada_w1_b.", ".hada_w2_a.", ".hada_w2_b."),
    "lokr": has_marker(".lokr_w1.", ".lokr_w2.", ".lokr_w1_", ".lokr_w2_"),
    "oft": has_marker(".oft_R."),
    "vera": has_marker(".vera_lambda_b.", ".vera_lambda_d."),
    "prompt_tuning": has_marker("prompt_encoder."),
}


def is_trained_head(name: str, head: str, uses_peft: bool) -> bool:
    """peft trains a copy of the head (`modules_to_save`) and keeps the original frozen."""
    in_head = f".{head}." in f".{name}"
    return in_head and (".modules_to_save." in name if uses_peft else True)


def owner_of(model: nn.Module, parameter_name: str) -> nn.Module:
    return model.get_submodule(parameter_name.rpartition(".")[0])


@pytest.mark.parametrize("table", [EXPECTED_TRAINABLE, TRAINS_BACKBONE_PARAMETER])
def test_every_registered_method_has_an_expectation_here(table):
    missing = sorted(set(method_names()) - set(table))
    assert not missing, f"add the expected trainable parameters of {missing} to this test module"


@pytest.mark.parametrize(("family", "method"), APPLICABLE)
def test_trainable_count_matches_the_method_formula(family, method):
    case = TINY_MODEL_CASES[family]
    model, report = inject_method(case.build(), method_mapping(method))

    requires_grad = sum(p.numel() for p in model.parameters() if p.requires_grad)
    injection = Injection(case.build(), case.batch()[0], case.head, report)
    expected = EXPECTED_TRAINABLE[method](injection)
    assert report.trainable_parameters == requires_grad == expected
    assert report.total_parameters == sum(p.numel() for p in model.parameters())
    assert report.trainable_fraction == pytest.approx(expected / report.total_parameters)


# Non-default sizes, chosen to take the other branch of a shape rule where there is one (LoKr's
# rank-r w2, an OFT block size that some CNN layers do not divide).
NON_DEFAULT_FIELDS: dict[str, dict[str, Any]] = {
    "lora": {"r": 4, "alpha": 8},
    "dora": {"r": 2},
    "adalora": {"init_r": 6, "target_r": 4},
    "loha": {"r": 2},
    "lokr": {"r": 2},
    "oft": {"block_size": 8},
    "vera": {"r": 16},
    "adapter_houlsby": {"bottleneck_dim": 4},
    "adapter_pfeiffer": {"reduction_factor": 4},
    "prompt_tuning": {"num_virtual_tokens": 5},
}


@pytest.mark.parametrize(
    ("family", "method"),
    [
        pytest.param(family, method, id=f"{family}-{method}")
        for family, method in applicable_pairs()
        if method in NON_DEFAULT_FIELDS
    ],
)
def test_trainable_count_follows_non_default_sizes(family, method):
    case = TINY_MODEL_CASES[family]
    fields = NON_DEFAULT_FIELDS[method]
    model, report = inject_method(case.build(), method_mapping(method, **fields))

    assert fields.items() <= report.method_config.items()
    injection = Injection(case.build(), case.batch()[0], case.head, report)
    expected = EXPECTED_TRAINABLE[method](injection)
    assert report.trainable_parameters == expected
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == expected


@pytest.mark.parametrize(("family", "method"), APPLICABLE)
def test_report_names_method_family_and_mergeability(family, method):
    case = TINY_MODEL_CASES[family]
    _, report = inject_method(case.build(), method_mapping(method))

    assert report.method == method
    assert report.family == EXPECTED_FAMILY[family]
    assert report.mergeable == (get_method(method).merge is not None)
    assert report.method_config["name"] == method
    assert "batchnorm_reference" not in report.to_dict()


@pytest.mark.parametrize(
    ("family", "method"),
    APPLICABLE,
)
def test_report_head_modules_are_exactly_the_model_heads(family, method):
    case = TINY_MODEL_CASES[family]
    _, report = inject_method(case.build(), method_mapping(method))
    assert report.head_modules == [case.head]


@pytest.mark.parametrize(("family", "method"), APPLICABLE)
def test_exactly_the_method_parameters_and_the_head_train(family, method):
    case = TINY_MODEL_CASES[family]
    model, _ = inject_method(case.build(), method_mapping(method))
    trains = TRAINS_BACKBONE_PARAMETER[method]
    uses_peft = get_method(method).uses_peft

    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    expected = {
        name
        for name, _ in model.named_parameters()
        if is_trained_head(name, case.head, uses_peft) or trains(name, owner_of(model, name))
    }
    assert trained == expected
    assert any(is_trained_head(name, case.head, uses_peft) for name in trained)


@pytest.mark.parametrize(("family", "method"), APPLICABLE)
def test_optimiser_steps_move_trainable_parameters_and_nothing_else(family, method):
    adapter = trained_adapter(family, method)  # two AdamW steps in train mode
    model, before = adapter.model, adapter.parameters_before_training

    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert not moved - trainable, "frozen parameters changed"
    assert not trainable - moved, "trainable parameters did not move in two steps"
    head_name, uses_peft = TINY_MODEL_CASES[family].head, get_method(method).uses_peft
    head = {name for name in moved if is_trained_head(name, head_name, uses_peft)}
    assert head, "the task head did not move"
    if method != "linear_probe":
        assert moved - head, "no method parameter moved"

    buffers_before = adapter.buffers_before_training
    changed_buffers = {
        name for name, b in model.named_buffers() if not torch.equal(b, buffers_before[name])
    }
    batchnorm = {
        name
        for name in buffers_before
        if isinstance(owner_of(model, name), nn.modules.batchnorm._BatchNorm)
    }
    assert changed_buffers <= batchnorm, "only BatchNorm statistics may change outside training"
    if family == "cnn":
        assert changed_buffers, "train-mode steps must update the CNN's BatchNorm statistics"


@pytest.mark.parametrize(("family", "method"), sorted(NOT_APPLICABLE))
def test_method_that_cannot_apply_to_the_model_says_why(family, method):
    case = TINY_MODEL_CASES[family]
    with pytest.raises(ValueError, match=NOT_APPLICABLE[(family, method)]):
        inject_method(case.build(), method_mapping(method))
