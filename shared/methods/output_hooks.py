"""Attach a learned transform to a module's output without renaming the module.

SSF and bottleneck adapters act on a layer's output. Registering their parameters on the layer
and applying them in a forward hook keeps every base parameter's name unchanged, so saved
adapters load by plain names and merging only removes what the method added.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from shared.architectures import CONVOLUTIONS

CHANNELS_FIRST = (*CONVOLUTIONS, nn.modules.batchnorm._BatchNorm, nn.GroupNorm)
HOOK_HANDLE = "_peftsuite_output_hook"


def is_channels_first(module: nn.Module) -> bool:
    """Whether the output keeps channels in dim 1 (convolutions, batch norm, CNN blocks)."""
    if isinstance(module, CHANNELS_FIRST):
        return True
    leaves = [m for m in module.modules() if not list(m.children())]
    return bool(leaves) and any(isinstance(m, CHANNELS_FIRST) for m in leaves)


def output_width(module: nn.Module) -> int:
    """The channel count of `module`'s output, read from its last layer that declares one.

    Raises:
        ValueError: when no layer declares a width, naming the module type.
    """
    for layer in reversed(list(module.modules())):
        for attribute in ("out_features", "out_channels", "num_features", "nf"):
            width = getattr(layer, attribute, None)
            if isinstance(width, int):
                return width
        shape = getattr(layer, "normalized_shape", None)
        if shape:
            return int(shape[-1])
    raise ValueError(f"cannot tell the output width of {type(module).__name__}")


def attach_output_transform(
    module: nn.Module, transform: Callable[[torch.Tensor], torch.Tensor]
) -> None:
    """Replace the module's output `y` (or `y[0]` for tuple outputs) with `transform(y)`."""

    def hook(_module, _inputs, output):
        if isinstance(output, tuple):
            return (transform(output[0]), *output[1:])
        return transform(output)

    setattr(module, HOOK_HANDLE, module.register_forward_hook(hook))


def detach_output_transform(module: nn.Module) -> None:
    getattr(module, HOOK_HANDLE).remove()
    delattr(module, HOOK_HANDLE)
