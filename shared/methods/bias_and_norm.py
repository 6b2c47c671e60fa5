"""Methods that unfreeze a small, existing subset of the backbone: biases or normalisation layers.

BitFit: Ben Zaken et al. 2022, "BitFit: Simple Parameter-efficient Fine-tuning for
Transformer-based Masked Language-models", arXiv:2106.10199. Norm tuning trains only the affine
parameters of normalisation layers (e.g. Giannou et al. 2023, "The Expressive Power of Tuning
Only the Normalization Layers", arXiv:2302.07937).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from shared.architectures import matching_module_names
from shared.freezing import freeze_all
from shared.methods.baselines import already_merged
from shared.methods.registry import (
    AppliedMethod,
    MethodConfig,
    MethodContext,
    MethodSpec,
    register_method,
)

NORM_LAYERS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm, nn.RMSNorm)


@dataclass
class BitFitConfig(MethodConfig):
    learning_rate: float = 1e-3


@dataclass
class NormTuningConfig(MethodConfig):
    learning_rate: float = 1e-3


def is_norm_layer(module: nn.Module) -> bool:
    """torch's norm layers, and model-specific ones such as transformers' `GemmaRMSNorm`."""
    return isinstance(module, NORM_LAYERS) or type(module).__name__.endswith("Norm")


def backbone_modules(model: nn.Module, config: MethodConfig, context: MethodContext):
    """(name, module) pairs matching target_modules (all if unset), except the head."""
    in_scope = (
        set(matching_module_names(model, config.target_modules)) if config.target_modules else None
    )
    for name, module in model.named_modules():
        if not name or any(name == h or name.startswith(h + ".") for h in context.head_names):
            continue
        if in_scope is None or name in in_scope:
            yield name, module


def unfreeze_own_parameters(model, config, context, select, method: str) -> AppliedMethod:
    """Freeze everything, then unfreeze the directly owned parameters that `select` picks."""
    freeze_all(model)
    adapted = []
    for name, module in backbone_modules(model, config, context):
        chosen = [p for key, p in module.named_parameters(recurse=False) if select(module, key)]
        for parameter in chosen:
            parameter.requires_grad_(True)
        if chosen:
            adapted.append(name)
    if not adapted:
        raise ValueError(
            f"method.name={method}: no parameters to train in method.target_modules="
            f"{config.target_modules!r}"
        )
    return AppliedMethod(model, adapted)


def apply_bitfit(model: nn.Module, config: MethodConfig, context: MethodContext):
    return unfreeze_own_parameters(model, config, context, lambda m, key: key == "bias", "bitfit")


def apply_norm_tuning(model: nn.Module, config: MethodConfig, context: MethodContext):
    return unfreeze_own_parameters(
        model, config, context, lambda m, key: is_norm_layer(m), "norm_tuning"
    )


register_method(
    MethodSpec(
        name="bitfit",
        config_class=BitFitConfig,
        apply=apply_bitfit,
        merge=already_merged,
        uses_peft=False,
        summary="only bias terms train",
    )
)
register_method(
    MethodSpec(
        name="norm_tuning",
        config_class=NormTuningConfig,
        apply=apply_norm_tuning,
        merge=already_merged,
        uses_peft=False,
        summary="only normalisation-layer scales and shifts train",
    )
)
