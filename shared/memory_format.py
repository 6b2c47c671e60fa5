"""Channels-last memory format for convolutional backbones and their image batches.

PyTorch stores 4-D tensors channel-first (NCHW) by default; oneDNN (CPU) and cuDNN (GPU) run
2-D convolutions fastest on channels-last (NHWC) tensors, and otherwise reorder every activation
on the way in and out. Converting the model's 4-D weights once and each image batch on arrival
removes those reorders; the arithmetic is the same, so outputs agree to float rounding. Measured
on a 2-core AVX2 CPU (`benchmarks/throughput.py`): EfficientNet-Lite0 and MONAI's DenseNet121
train and infer faster in channels-last, so the vision pipeline turns it on by default
(`data.channels_last`). Models without 2-D convolutions (ViTs) are left as they are.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def has_2d_convolutions(model: nn.Module) -> bool:
    """Whether any submodule is a 2-D convolution (the layers channels-last speeds up)."""
    return any(isinstance(module, nn.Conv2d) for module in model.modules())


def to_channels_last(model: nn.Module) -> nn.Module:
    """`model` with its 4-D parameters and buffers in channels-last format (in place).

    A model without 2-D convolutions is returned unchanged.
    """
    if has_2d_convolutions(model):
        model.to(memory_format=torch.channels_last)
    return model


def is_channels_last(model: nn.Module) -> bool:
    """Whether every 4-D weight of `model`'s 2-D convolutions is stored channels-last."""
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    return bool(weights) and all(
        weight.is_contiguous(memory_format=torch.channels_last) for weight in weights
    )


def batch_to_channels_last(batch: Any) -> Any:
    """A batch with its 4-D image tensors (NCHW) laid out channels-last; the rest unchanged.

    Accepts a tensor, or a dict / list / tuple holding tensors (as a data loader yields them).
    """
    if isinstance(batch, torch.Tensor):
        if batch.dim() == 4 and batch.is_floating_point():
            return batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {key: batch_to_channels_last(value) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(batch_to_channels_last(value) for value in batch)
    return batch
