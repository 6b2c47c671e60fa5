"""SSF: learned per-channel scale and shift after every linear, convolution and norm layer.

Lian et al. 2022, "Scaling & Shifting Your Features: A New Baseline for Efficient Model
Tuning", NeurIPS, arXiv:2210.08823. The transform is affine, so it folds into the preceding
layer's weight and bias at merge time, leaving no inference overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from shared.architectures import CONVOLUTIONS
from shared.freezing import freeze_all
from shared.methods.output_hooks import (
    attach_output_transform,
    detach_output_transform,
    is_channels_first,
    output_width,
)
from shared.methods.registry import (
    AppliedMethod,
    MethodConfig,
    MethodContext,
    MethodSpec,
    register_method,
)
from shared.targets import LINEAR_LAYERS, resolve_targets

SCALE, SHIFT = "ssf_scale", "ssf_shift"
SSF_LAYERS = (*LINEAR_LAYERS, *CONVOLUTIONS, nn.LayerNorm, nn.modules.batchnorm._BatchNorm)


@dataclass
class SSFConfig(MethodConfig):
    learning_rate: float = 5e-3


def ssf_layer_check(module: nn.Module) -> str | None:
    if not isinstance(module, SSF_LAYERS):
        return f"{type(module).__name__} is not a linear, convolution or norm layer"
    activation = getattr(module, "act", None)
    if activation is not None and not isinstance(activation, nn.Identity):
        # timm's BatchNormAct fuses an activation; a shift after it would not fold into the norm.
        return "norm layer fuses an activation; SSF sits on the layer before it"
    return None


def broadcast(vector: torch.Tensor, output: torch.Tensor, channels_first: bool) -> torch.Tensor:
    if channels_first and output.dim() > 2:
        return vector.view(1, -1, *([1] * (output.dim() - 2)))
    return vector


def add_scale_shift(module: nn.Module) -> None:
    width = output_width(module)
    reference = next(module.parameters())
    module.register_parameter(SCALE, nn.Parameter(torch.ones(width, device=reference.device)))
    module.register_parameter(SHIFT, nn.Parameter(torch.zeros(width, device=reference.device)))
    channels_first = is_channels_first(module)

    def scale_and_shift(output: torch.Tensor) -> torch.Tensor:
        scale = broadcast(getattr(module, SCALE), output, channels_first)
        shift = broadcast(getattr(module, SHIFT), output, channels_first)
        return output * scale + shift

    attach_output_transform(module, scale_and_shift)


def apply_ssf(model: nn.Module, config: MethodConfig, context: MethodContext) -> AppliedMethod:
    every_candidate = [n for n, m in model.named_modules() if isinstance(m, SSF_LAYERS)]
    targets, skipped = resolve_targets(
        model,
        config.target_modules or every_candidate,
        ssf_layer_check,
        method="ssf",
        exclude=context.head_names,
    )
    freeze_all(model)
    modules = dict(model.named_modules())
    for name in targets:
        add_scale_shift(modules[name])
    return AppliedMethod(model, targets, skipped)


@torch.no_grad()
def fold_scale_shift(module: nn.Module) -> None:
    """Fold y * s + t into the layer: W <- s W (per output channel), b <- s b + t."""
    scale, shift = getattr(module, SCALE), getattr(module, SHIFT)
    if module.weight is None:
        raise ValueError(f"cannot merge SSF into {type(module).__name__} without affine weights")
    if isinstance(module, Conv1D):  # transformers' Conv1D stores its weight as (in, out)
        module.weight.mul_(scale.view(1, -1))
    else:
        module.weight.mul_(scale.view(-1, *([1] * (module.weight.dim() - 1))))
    if module.bias is None:
        module.bias = nn.Parameter(torch.zeros_like(shift))
    module.bias.mul_(scale).add_(shift)
    del module._parameters[SCALE], module._parameters[SHIFT]
    detach_output_transform(module)


def merge_ssf(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if SCALE in module._parameters:
            fold_scale_shift(module)
    return model


register_method(
    MethodSpec(
        name="ssf",
        config_class=SSFConfig,
        apply=apply_ssf,
        merge=merge_ssf,
        uses_peft=False,
        summary="per-channel scale and shift after every linear, conv and norm layer",
    )
)
