"""The two reference points every PEFT method is compared with: full fine-tuning and a linear probe.

Full fine-tuning trains every parameter (the cost ceiling); a linear probe trains only the task
head on frozen features (the cost floor).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from shared.freezing import freeze_all
from shared.methods.registry import (
    AppliedMethod,
    MethodConfig,
    MethodContext,
    MethodSpec,
    register_method,
)


@dataclass
class FullFinetuneConfig(MethodConfig):
    learning_rate: float = 5e-5
    train_batchnorm_statistics: bool = True


@dataclass
class LinearProbeConfig(MethodConfig):
    learning_rate: float = 5e-3


def already_merged(model: nn.Module) -> nn.Module:
    """The method changed base weights in place: there is nothing to fold."""
    return model


def apply_full_finetune(model: nn.Module, config: MethodConfig, context: MethodContext):
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return AppliedMethod(model, [name for name, _ in model.named_children()])


def apply_linear_probe(model: nn.Module, config: MethodConfig, context: MethodContext):
    if not context.head_names:
        raise ValueError("method.name=linear_probe needs a task head; set method.head_modules")
    freeze_all(model)
    return AppliedMethod(model, [])


register_method(
    MethodSpec(
        name="full",
        config_class=FullFinetuneConfig,
        apply=apply_full_finetune,
        merge=already_merged,
        uses_peft=False,
        summary="every parameter trains (baseline)",
    )
)
register_method(
    MethodSpec(
        name="linear_probe",
        config_class=LinearProbeConfig,
        apply=apply_linear_probe,
        merge=already_merged,
        uses_peft=False,
        summary="only the task head trains, on frozen features",
    )
)
