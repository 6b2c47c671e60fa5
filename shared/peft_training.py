"""What every LightningModule over an injected model does the same way, whatever its task.

Only the parameters the injection layer left trainable are optimised; AdaLoRA re-allocates its
rank budget after each step; checkpoints hold only the trainable tensors (and BatchNorm
statistics that moved), never the frozen backbone.
"""

from __future__ import annotations

import torch
from torch import nn

from shared.checkpoint import adapter_state_dict
from shared.inject import InjectionReport


def adamw_over_trainable(
    model: nn.Module, learning_rate: float, weight_decay: float
) -> torch.optim.Optimizer:
    trainable = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=weight_decay)


def update_rank_budget(model: nn.Module, step: int) -> None:
    """AdaLoRA re-allocates its rank budget from the gradients of the step just taken."""
    update_and_allocate = getattr(getattr(model, "base_model", None), "update_and_allocate", None)
    if callable(update_and_allocate):
        update_and_allocate(step)


def checkpoint_state_dict(model: nn.Module, report: InjectionReport) -> dict[str, torch.Tensor]:
    """The module's state dict as a checkpoint holds it: the adapter's tensors under `model.`."""
    return {f"model.{name}": tensor for name, tensor in adapter_state_dict(model, report).items()}
