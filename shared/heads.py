"""Find the task head of a model: the freshly initialised layers that always train.

A PEFT method freezes the pretrained backbone, but the classification head is new for every
task, so it must stay trainable whatever the method. Builders may name their head explicitly;
otherwise the conventions of transformers, timm and MONAI find it.
"""

from __future__ import annotations

from torch import nn

# transformers' task heads, in the order they sit in the models that have several.
TRANSFORMERS_HEAD_NAMES = ("projector", "classifier", "score")
MONAI_HEAD_NAMES = ("class_layers.out", "fc", "out")


def find_head_names(model: nn.Module) -> list[str]:
    """Names of the task-head modules of `model`; empty when the model has no separate head.

    Raises:
        ValueError: for a model whose head cannot be recognised, asking for method.head_modules.
    """
    modules = dict(model.named_modules())
    get_classifier = getattr(model, "get_classifier", None)
    if callable(get_classifier) and type(model).__module__.startswith("timm."):
        classifier = get_classifier()
        return [name for name, module in modules.items() if module is classifier and name]
    if getattr(model, "config", None) is not None:
        return [name for name in TRANSFORMERS_HEAD_NAMES if name in modules]
    for name in MONAI_HEAD_NAMES:
        if name in modules:
            return [name]
    raise ValueError(
        f"cannot find the task head of {type(model).__name__}; "
        "set method.head_modules to the names of its head modules"
    )
