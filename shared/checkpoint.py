"""Adapter checkpoints: save only what training changed, restore it onto a fresh base, merge.

An adapter file holds the trainable tensors (method parameters and task head) and the BatchNorm
statistics that moved during training, in safetensors, with the method config as metadata. A
fresh base model plus the same injection gives the same parameter names, so loading is a plain
name-for-name copy that reproduces the trained model's outputs exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from shared.atomic import atomic_path
from shared.inject import InjectionReport, inject_method
from shared.methods import get_method

METHOD_KEY = "peftsuite.method_config"
# The task head the adapter was trained with: a domain adapter drops it when stacked.
HEADS_KEY = "peftsuite.head_modules"
# Set on a task adapter trained over frozen domain adapters: their files and checksums.
STACK_KEY = "peftsuite.stack"


def adapter_state_dict(model: nn.Module, report: InjectionReport) -> dict[str, torch.Tensor]:
    """Trainable parameters plus the BatchNorm statistics that differ from injection time."""
    state = {
        name: parameter.detach()
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }
    buffers = dict(model.named_buffers())
    for name, reference in report.batchnorm_reference.items():
        current = buffers[name]
        if not torch.equal(current.cpu(), reference.cpu()):
            state[name] = current.detach()
    return state


def save_adapter(
    model: nn.Module, report: InjectionReport, path: str | Path, *, stack: str | None = None
) -> int:
    """Write the adapter atomically to `path` (safetensors); returns its size in bytes.

    `stack` (see `shared.stacking.stack_metadata`) records the domain adapters it was trained on.
    """
    state = {
        name: tensor.contiguous().cpu()
        for name, tensor in adapter_state_dict(model, report).items()
    }
    metadata = {
        METHOD_KEY: json.dumps(report.method_config),
        HEADS_KEY: json.dumps(report.head_modules),
    }
    if stack is not None:
        metadata[STACK_KEY] = stack
    path = Path(path)
    with atomic_path(path) as temporary:
        save_file(state, str(temporary), metadata=metadata)
    return path.stat().st_size


def read_metadata(path: str | Path) -> dict[str, str]:
    """An adapter file's metadata: the method config and, for a stacked task adapter, its stack."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if METHOD_KEY not in metadata:
        raise ValueError(f"{path}: not a peftsuite adapter (no {METHOD_KEY} metadata)")
    return metadata


def read_method_config(path: str | Path) -> dict[str, Any]:
    """The method config an adapter file was trained with."""
    return json.loads(read_metadata(path)[METHOD_KEY])


def load_adapter_state(model: nn.Module, path: str | Path) -> None:
    """Copy a saved adapter's tensors into an already injected `model`, checking every name."""
    load_state_checked(model, load_file(str(path)), str(path))


def load_state_checked(
    model: nn.Module, state: dict[str, torch.Tensor], where: str, error: type = ValueError
) -> None:
    """Copy `state` into `model` after checking every name and shape; a misfit names the tensor
    and says the file was saved from another base model (or method)."""
    expected = model.state_dict()
    unknown = sorted(set(state) - set(expected))
    if unknown:
        raise error(
            f"{where}: {len(unknown)} tensors have no place in this model (e.g. {unknown[0]!r}); "
            "it was saved from another base model or method"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise error(
                f"{where}: {name} has shape {tuple(tensor.shape)}, the model has "
                f"{tuple(expected[name].shape)}; it was saved from another base model or method"
            )
    model.load_state_dict(state, strict=False)


def restore_adapter(
    base_model: nn.Module, path: str | Path, *, head_modules: list[str] | None = None
) -> tuple[nn.Module, InjectionReport]:
    """Inject the method recorded in `path` into a fresh `base_model` and load its weights."""
    if STACK_KEY in read_metadata(path):
        raise ValueError(
            f"{path} was trained on top of domain adapters ({read_metadata(path)[STACK_KEY]}); "
            "restore it with shared.stacking.restore_stacked_adapter"
        )
    model, report = inject_method(base_model, read_method_config(path), head_modules=head_modules)
    load_adapter_state(model, path)
    return model, report


def merge_adapter(model: nn.Module, report: InjectionReport) -> nn.Module:
    """Fold the method into the base weights; the result has the base model's architecture."""
    merge = get_method(report.method).merge
    if merge is None:
        raise ValueError(
            f"method {report.method!r} cannot be merged into the base weights (it adds "
            "computation no weight can absorb); keep it as an adapter"
        )
    return merge(model)
