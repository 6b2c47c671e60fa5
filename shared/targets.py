"""Turn a method's target pattern into the exact modules it adapts, with reasons for skips.

A preset regex can match layers a method cannot handle (a depthwise convolution for LoRA, a
convolution for VeRA). Those are skipped here with the reason recorded in the injection report,
instead of failing deep inside `peft` or silently adapting nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from transformers.pytorch_utils import Conv1D

from shared.architectures import CONVOLUTIONS, matching_module_names

# Decides whether one module can take a method: None if it can, else the reason it cannot.
LayerCheck = Callable[[nn.Module], "str | None"]


def accepts(*layer_types: type) -> LayerCheck:
    """A check that accepts exactly `layer_types`."""
    names = ", ".join(t.__name__ for t in layer_types)

    def check(module: nn.Module) -> str | None:
        if isinstance(module, layer_types):
            return None
        return f"{type(module).__name__} is not a supported layer type ({names})"

    return check


def ungrouped(base: LayerCheck) -> LayerCheck:
    """Reject grouped and depthwise convolutions: peft can train some but merge none of them."""

    def check(module: nn.Module) -> str | None:
        reason = base(module)
        if reason is None and isinstance(module, CONVOLUTIONS) and module.groups > 1:
            return f"grouped convolution (groups={module.groups}) is not supported"
        return reason

    return check


LINEAR_LAYERS = (nn.Linear, Conv1D)


TIED_REASON = (
    "its weight is the input embedding matrix (tied output layer): adapting or merging into it "
    "would change the embeddings too"
)


def input_embeddings(model: nn.Module) -> nn.Module | None:
    """A transformers model's input embedding module; None for models without one (timm,
    MONAI, and audio encoders whose `get_input_embeddings` raises NotImplementedError)."""
    try:
        return model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    except NotImplementedError:
        return None


def tied_to_input_embeddings(model: nn.Module) -> list[nn.Module]:
    """Modules other than the input embedding that share its weight, e.g. a tied `lm_head`."""
    embeddings = input_embeddings(model)
    weight = getattr(embeddings, "weight", None)
    if weight is None:
        return []
    return [
        module
        for module in model.modules()
        if module is not embeddings and getattr(module, "weight", None) is weight
    ]


def resolve_targets(
    model: nn.Module,
    pattern: str | list[str],
    check: LayerCheck,
    *,
    method: str,
    exclude: list[str],
) -> tuple[list[str], dict[str, str]]:
    """The modules `pattern` selects that pass `check`, and the skipped ones with reasons.

    Modules inside the task head (`exclude`) are never targets: the head trains in full.

    Raises:
        ValueError: naming method.target_modules when nothing usable matches.
    """
    modules = dict(model.named_modules())
    matched = [
        name
        for name in matching_module_names(model, pattern)
        if not any(name == head or name.startswith(head + ".") for head in exclude)
    ]
    tied = tied_to_input_embeddings(model)
    targets, skipped = [], {}
    for name in matched:
        reason = TIED_REASON if modules[name] in tied else check(modules[name])
        if reason is None:
            targets.append(name)
        else:
            skipped[name] = reason
    if not targets:
        examples = [name for name in modules if name][:8]
        detail = f"; skipped: {dict(list(skipped.items())[:3])}" if skipped else ""
        raise ValueError(
            f"method.target_modules={pattern!r} matched no module that {method} can adapt"
            f"{detail}. Module names look like {examples}"
        )
    return targets, skipped
