"""Bottleneck adapters in Houlsby (two per block) and Pfeiffer (one per block) placement.

Houlsby et al. 2019, "Parameter-Efficient Transfer Learning for NLP", ICML, arXiv:1902.00751;
Pfeiffer et al. 2021, "AdapterFusion: Non-Destructive Task Composition for Transfer Learning",
EACL, arXiv:2005.00247. Written here because `peft` has no bottleneck adapters and AdapterHub's
`adapters` cannot be installed beside transformers 5.

Each adapter maps a sublayer's output y to y + up(act(down(y))), with `up` zero-initialised so
the adapted model starts as the pretrained one. On convolutional outputs down/up are 1x1
convolutions over channels. The nonlinearity means it cannot be merged into base weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from shared.freezing import freeze_all
from shared.methods.output_hooks import attach_output_transform, is_channels_first, output_width
from shared.methods.registry import (
    AppliedMethod,
    MethodConfig,
    MethodContext,
    MethodSpec,
    register_method,
)
from shared.targets import resolve_targets

ADAPTER_ATTRIBUTE = "bottleneck_adapter"
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


@dataclass
class BottleneckConfig(MethodConfig):
    """`bottleneck_dim` fixes the hidden width; otherwise it is output width // reduction_factor."""

    bottleneck_dim: int | None = None
    reduction_factor: int = 16
    activation: str = "gelu"
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"method.activation: unknown {self.activation!r}; "
                f"choose one of {sorted(ACTIVATIONS)}"
            )
        if self.reduction_factor < 1 or (
            self.bottleneck_dim is not None and self.bottleneck_dim < 1
        ):
            raise ValueError("method.bottleneck_dim and method.reduction_factor must be >= 1")


class BottleneckAdapter(nn.Module):
    """down -> activation -> up, added back to its input; 1x1 convolutions on channel-first maps."""

    def __init__(self, width: int, hidden: int, activation: str, spatial_dims: int) -> None:
        super().__init__()
        if spatial_dims:
            convolution = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[spatial_dims - 1]
            self.down = convolution(width, hidden, kernel_size=1)
            self.up = convolution(hidden, width, kernel_size=1)
        else:
            self.down = nn.Linear(width, hidden)
            self.up = nn.Linear(hidden, width)
        self.activation = ACTIVATIONS[activation]()
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states + self.up(self.activation(self.down(hidden_states)))


def spatial_dims_of(module: nn.Module) -> int:
    """0 for token features (channels last); else the number of spatial axes of its output."""
    if not is_channels_first(module):
        return 0
    for layer in module.modules():
        kernel = getattr(layer, "kernel_size", None)
        if isinstance(kernel, tuple):
            return len(kernel)
    return 2


def add_adapter(module: nn.Module, config: BottleneckConfig) -> None:
    width = output_width(module)
    hidden = config.bottleneck_dim or max(1, width // config.reduction_factor)
    adapter = BottleneckAdapter(width, hidden, config.activation, spatial_dims_of(module))
    adapter.to(next(module.parameters()).device)
    module.add_module(ADAPTER_ATTRIBUTE, adapter)
    attach_output_transform(module, adapter)


def accepts_any_layer(module: nn.Module) -> str | None:
    return None  # adapters wrap any module whose output width is known


def make_apply(placements: tuple[str, ...], method: str):
    """An apply function placing one adapter after each module of the preset roles `placements`."""

    def apply(model: nn.Module, config: BottleneckConfig, context: MethodContext) -> AppliedMethod:
        if config.target_modules is not None:
            pattern = config.target_modules
        elif context.preset is not None:
            pattern = "|".join(f"(?:{getattr(context.preset, p)})" for p in placements)
        else:
            raise ValueError(f"method.target_modules must be set for {method} on this model")
        targets, skipped = resolve_targets(
            model, pattern, accepts_any_layer, method=method, exclude=context.head_names
        )
        freeze_all(model)
        modules = dict(model.named_modules())
        for name in targets:
            add_adapter(modules[name], config)
        return AppliedMethod(model, targets, skipped)

    return apply


register_method(
    MethodSpec(
        name="adapter_houlsby",
        config_class=BottleneckConfig,
        apply=make_apply(("adapter_attention", "adapter_feedforward"), "adapter_houlsby"),
        merge=None,
        uses_peft=False,
        summary="bottleneck adapters after the attention and feed-forward sublayers",
    )
)
register_method(
    MethodSpec(
        name="adapter_pfeiffer",
        config_class=BottleneckConfig,
        apply=make_apply(("adapter_feedforward",), "adapter_pfeiffer"),
        merge=None,
        uses_peft=False,
        summary="one bottleneck adapter after each block's feed-forward sublayer",
    )
)
