"""Switch parameters between trainable and frozen by module name."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn


def freeze_all(model: nn.Module) -> None:
    for parameter in model.parameters():
        parameter.requires_grad_(False)


def unfreeze_modules(model: nn.Module, names: Iterable[str]) -> None:
    """Make every parameter of the named modules trainable."""
    modules = dict(model.named_modules())
    for name in names:
        for parameter in modules[name].parameters():
            parameter.requires_grad_(True)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; a parameter shared by two modules counts once."""
    unique = {id(p): p for p in model.parameters()}.values()
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return trainable, sum(p.numel() for p in unique)
