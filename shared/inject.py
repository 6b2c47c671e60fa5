"""The injection layer's one entry point: put any registered PEFT method into any supported model.

`inject_method(model, method)` returns the model ready to train (only the method's parameters
and the task head require grad) and an `InjectionReport` saying exactly what was done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from shared.architectures import PRESETS, detect_family
from shared.freezing import count_parameters, unfreeze_modules
from shared.heads import find_head_names
from shared.methods import get_method, method_config_from_mapping
from shared.methods.registry import MethodConfig, MethodContext


@dataclass
class InjectionReport:
    """What `inject_method` did, with exact parameter counts.

    `total_parameters` counts every distinct parameter of the returned model, adapter included.
    `batchnorm_reference` holds the BatchNorm statistics at injection time, so a saved adapter
    can carry the statistics that training changed and nothing else.
    """

    method: str
    family: str | None
    trainable_parameters: int
    total_parameters: int
    adapted_modules: list[str]
    skipped_modules: dict[str, str]
    head_modules: list[str]
    mergeable: bool
    method_config: dict[str, Any]
    batchnorm_reference: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def trainable_fraction(self) -> float:
        return self.trainable_parameters / self.total_parameters

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        del values["batchnorm_reference"]
        values["trainable_fraction"] = self.trainable_fraction
        return values


def batchnorm_statistics(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every BatchNorm running statistic, keyed by buffer name."""
    statistics = {}
    for module_name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for buffer_name, buffer in module.named_buffers(recurse=False):
                if buffer is not None:
                    statistics[f"{module_name}.{buffer_name}"] = buffer.detach().clone()
    return statistics


def resolve_family(model: nn.Module, config: MethodConfig) -> str | None:
    if config.family is not None:
        if config.family not in PRESETS:
            raise ValueError(
                f"method.family: unknown {config.family!r}; choose from {sorted(PRESETS)}"
            )
        return config.family
    try:
        return detect_family(model)
    except ValueError:
        if config.target_modules is None:
            raise
        return None


def check_listed_targets(model: nn.Module, config: MethodConfig) -> None:
    """Every name in a `target_modules` list must name a module: a misspelt one among correct
    ones would otherwise be dropped without a word."""
    if not isinstance(config.target_modules, (list, tuple)):
        return
    names = [name for name, _ in model.named_modules() if name]
    unmatched = [
        entry
        for entry in config.target_modules
        if not any(name == entry or name.endswith("." + entry) for name in names)
    ]
    if unmatched:
        suffixes = sorted({name.rsplit(".", 1)[-1] for name in names})
        raise ValueError(
            f"method.target_modules={list(config.target_modules)!r}: {unmatched} match no "
            f"module of {type(model).__name__}; "
            f"module names end in e.g. {suffixes[:12]}"
        )


def resolve_heads(
    model: nn.Module, config: MethodConfig, head_modules: list[str] | None
) -> list[str]:
    heads = config.head_modules or head_modules
    heads = list(heads) if heads is not None else find_head_names(model)
    modules = dict(model.named_modules())
    missing = [name for name in heads if name not in modules]
    if missing:
        raise ValueError(
            f"method.head_modules: no module named {missing} in {type(model).__name__}"
        )
    return heads


def inject_method(
    model: nn.Module,
    method: MethodConfig | Mapping[str, Any],
    *,
    head_modules: list[str] | None = None,
) -> tuple[nn.Module, InjectionReport]:
    """Apply `method` to `model` and freeze everything else but the task head.

    Args:
        model: a transformers, timm or MONAI model (or any module, given target_modules).
        method: a method config, or a mapping with `name` and that method's fields.
        head_modules: the builder's names for the task head; method.head_modules wins.

    Returns:
        The model to train (a `peft.PeftModel` for peft methods) and the report.
    """
    config = method if isinstance(method, MethodConfig) else method_config_from_mapping(method)
    spec = get_method(config.name)
    check_listed_targets(model, config)
    family = resolve_family(model, config)
    heads = resolve_heads(model, config, head_modules)
    context = MethodContext(preset=PRESETS.get(family) if family else None, head_names=heads)
    applied = spec.apply(model, config, context)
    if not spec.uses_peft:
        unfreeze_modules(applied.model, heads)
    trainable, total = count_parameters(applied.model)
    report = InjectionReport(
        method=spec.name,
        family=family,
        trainable_parameters=trainable,
        total_parameters=total,
        adapted_modules=applied.adapted_modules,
        skipped_modules=applied.skipped_modules,
        head_modules=heads,
        mergeable=spec.merge is not None,
        method_config=dataclasses.asdict(config),
        batchnorm_reference=batchnorm_statistics(applied.model),
    )
    return applied.model, report
