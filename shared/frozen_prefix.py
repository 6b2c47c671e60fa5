"""Find the frozen prefix of an injected model: the layers below every trainable tensor.

A backbone is described as a chain of stages in the order its forward runs them (EfficientNet:
stem, each block, head convolution, pooling, classifier; BERT: the encoder with its pooler, then
the classifier). Training changes nothing below the first stage that holds a parameter with
`requires_grad`, so that stage is the cut: the stages before it map each example to the same
features every epoch, and those can be computed once and cached (`shared.feature_cache`).

Detection is generic over methods: it reads only `requires_grad` and the stage order, so it
needs no list of methods. With their default targets only `linear_probe` qualifies (every other
method trains something in the first stages: LoRA, IA3, adapters and SSF from the first block
on, BitFit and norm tuning the stem's BatchNorm, full fine-tuning everything). Any method
qualifies when `method.target_modules` keeps it in the upper stages, e.g. `method=bitfit
method.target_modules='blocks\\.6\\..*|conv_head|bn2'` on EfficientNet. A prefix is refused when
a parameter lies outside every stage (prompt tuning's virtual tokens), when BatchNorm statistics
in it update during training (`method.train_batchnorm_statistics=true`), when it holds less than
half of the model's parameters (too little computation saved: LoRA leaves only EfficientNet's
stem frozen), or when the backbone has no known chain. Before first use a chain is checked
against the model's own forward (`check_chain`), so a library release that changes a forward
disables the cut instead of silently computing something else.

Caveat: cached features are computed with the prefix in eval mode. A prefix with dropout (BERT's
hidden dropout) applies it during uncached training; the cached path does not, as if that
dropout were augmentation turned off.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional

# transformers sequence classifiers whose logits are classifier(dropout(pooler output)).
POOLED_SEQUENCE_CLASSIFIERS = frozenset({"BertForSequenceClassification"})
KNOWN_CHAINS = "timm EfficientNet, MONAI DenseNet, BERT sequence classifiers"
# A prefix holding less of the model than this saves too little to be worth storing: LoRA's
# default targets leave EfficientNet's stem frozen, whose feature maps are larger than the images.
MIN_PREFIX_PARAMETER_SHARE = 0.5
CHECK_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@dataclass(frozen=True)
class Stage:
    """One step of a backbone's forward: `forward` maps the previous stage's output to its own.

    `modules` own every parameter the stage uses; the first stage takes the model's inputs (a
    tensor, or a dict of keyword arguments for transformers models).
    """

    name: str
    modules: tuple[nn.Module, ...]
    forward: Callable[[Any], Any]

    def parameters(self) -> Iterator[nn.Parameter]:
        for module in self.modules:
            yield from module.parameters()


def base_model_of(model: nn.Module) -> nn.Module:
    """The plain backbone inside a `peft.PeftModel` (whose adapted layers live in it)."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


def efficientnet_stages(model: nn.Module) -> list[Stage] | None:
    """timm's EfficientNet family (EfficientNet-Lite included), one stage per block."""
    if type(model).__name__ != "EfficientNet" or not type(model).__module__.startswith("timm."):
        return None
    stages = [Stage("stem", (model.conv_stem, model.bn1), lambda x: model.bn1(model.conv_stem(x)))]
    for index, group in enumerate(model.blocks):
        stages += [Stage(f"blocks.{index}.{inner}", (b,), b) for inner, b in enumerate(group)]

    def classify(features: torch.Tensor) -> torch.Tensor:
        dropped = functional.dropout(features, p=model.drop_rate, training=model.training)
        return model.classifier(dropped)

    return [
        *stages,
        Stage("conv_head", (model.conv_head, model.bn2), lambda x: model.bn2(model.conv_head(x))),
        Stage("global_pool", (model.global_pool,), model.global_pool),
        Stage("classifier", (model.classifier,), classify),
    ]


def monai_densenet_stages(model: nn.Module) -> list[Stage] | None:
    """MONAI's DenseNets: `features` then `class_layers`, one stage per child of either."""
    features = getattr(model, "features", None)
    head = getattr(model, "class_layers", None)
    if not type(model).__module__.startswith("monai.") or not (
        isinstance(features, nn.Sequential) and isinstance(head, nn.Sequential)
    ):
        return None
    return [
        Stage(f"{prefix}.{name}", (child,), child)
        for prefix, container in (("features", features), ("class_layers", head))
        for name, child in container.named_children()
    ]


def pooled_encoder_stages(model: nn.Module) -> list[Stage] | None:
    """BERT-style classifiers: the encoder up to its pooled output, then dropout and classifier."""
    if type(model).__name__ not in POOLED_SEQUENCE_CLASSIFIERS:
        return None
    encoder = getattr(model, model.base_model_prefix)
    if getattr(encoder, "pooler", None) is None:
        return None
    return [
        Stage("encoder", (encoder,), lambda inputs: encoder(**inputs).pooler_output),
        Stage(
            "classifier",
            (model.dropout, model.classifier),
            lambda x: model.classifier(model.dropout(x)),
        ),
    ]


CHAIN_BUILDERS = (efficientnet_stages, monai_densenet_stages, pooled_encoder_stages)


def stage_chain(model: nn.Module) -> list[Stage] | None:
    """The stages of `model` (or of the backbone inside a peft wrapper), or None if unknown."""
    base = base_model_of(model)
    for build in CHAIN_BUILDERS:
        stages = build(base)
        if stages is not None:
            return stages
    return None


@contextlib.contextmanager
def eval_mode(modules: tuple[nn.Module, ...] | list[nn.Module]) -> Iterator[None]:
    """Put `modules` (recursively) in eval mode, restoring each submodule's own mode after."""
    every = [sub for module in modules for sub in module.modules()]
    modes = [sub.training for sub in every]
    for sub in every:
        sub.training = False
    try:
        yield
    finally:
        for sub, mode in zip(every, modes, strict=True):
            sub.training = mode


@dataclass(frozen=True)
class FrozenPrefix:
    """Stages `[:cut]` of a chain hold no trainable tensor; stages `[cut:]` are the top."""

    stages: tuple[Stage, ...]
    cut: int

    @property
    def cut_name(self) -> str:
        """Where the cut falls, e.g. 'global_pool|classifier'."""
        return f"{self.stages[self.cut - 1].name}|{self.stages[self.cut].name}"

    @property
    def prefix_modules(self) -> tuple[nn.Module, ...]:
        return tuple(module for stage in self.stages[: self.cut] for module in stage.modules)

    @torch.no_grad()
    def run_prefix(self, inputs: Any) -> torch.Tensor:
        """The prefix's output for a batch of model inputs, in eval mode and without gradients."""
        with eval_mode(self.prefix_modules):
            for stage in self.stages[: self.cut]:
                inputs = stage.forward(inputs)
        return inputs

    def run_top(self, features: torch.Tensor) -> torch.Tensor:
        """The logits of the stages above the cut, from the prefix's output."""
        for stage in self.stages[self.cut :]:
            features = stage.forward(features)
        return features

    def weights_digest(self) -> str:
        """A digest of every parameter and buffer the prefix computes with: names, dtypes,
        shapes and values (memory format aside)."""
        digest = hashlib.blake2b(digest_size=16)
        for stage in self.stages[: self.cut]:
            for index, module in enumerate(stage.modules):
                for name, tensor in module.state_dict(keep_vars=False).items():
                    digest.update(
                        f"{stage.name}/{index}/{name}:{tensor.dtype}:{list(tensor.shape)}".encode()
                    )
                    flat = tensor.detach().cpu().contiguous().reshape(-1)
                    digest.update(flat.view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()


def find_frozen_prefix(model: nn.Module, *, train_batchnorm_statistics: bool) -> FrozenPrefix | str:
    """The frozen prefix of an injected `model`, or a one-line reason why it has none.

    Args:
        model: the model `inject_method` returned.
        train_batchnorm_statistics: the method's setting; True lets BatchNorm running statistics
            change in training, so a prefix holding a BatchNorm is not frozen.
    """
    stages = stage_chain(model)
    if stages is None:
        return f"no stage chain is known for {type(base_model_of(model)).__name__} ({KNOWN_CHAINS})"
    owned = {id(parameter) for stage in stages for parameter in stage.parameters()}
    outside = [name for name, parameter in model.named_parameters() if id(parameter) not in owned]
    if outside:
        return f"parameters outside every stage of the chain (e.g. {outside[0]})"
    trainable = [
        i for i, stage in enumerate(stages) if any(p.requires_grad for p in stage.parameters())
    ]
    if not trainable:
        return "no parameter trains"
    cut = trainable[0]
    if cut == 0:
        return f"the first stage ({stages[0].name}) has trainable parameters"
    prefix = FrozenPrefix(tuple(stages), cut)
    share = prefix_parameter_share(prefix, model)
    if share < MIN_PREFIX_PARAMETER_SHARE:
        return (
            f"the frozen prefix (up to {stages[cut - 1].name}) holds only {share:.1%} of the "
            f"parameters, below {MIN_PREFIX_PARAMETER_SHARE:.0%}"
        )
    batchnorms = [
        sub
        for module in prefix.prefix_modules
        for sub in module.modules()
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.track_running_stats
    ]
    if train_batchnorm_statistics and batchnorms:
        return "BatchNorm statistics below the cut update in training"
    return prefix


def prefix_parameter_share(prefix: FrozenPrefix, model: nn.Module) -> float:
    """The prefix's share of all of `model`'s parameters (counted once each)."""
    below = {id(p): p.numel() for module in prefix.prefix_modules for p in module.parameters()}
    every = {id(p): p.numel() for p in model.parameters()}
    return sum(below.values()) / sum(every.values())


@torch.no_grad()
def check_chain(model: nn.Module, prefix: FrozenPrefix, inputs: Any) -> str | None:
    """None when the chain reproduces `model`'s logits on `inputs` (eval mode), else why not."""
    every = (model,)
    with eval_mode(every):
        output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
        expected = output.logits if hasattr(output, "logits") else output
        chained = prefix.run_top(prefix.run_prefix(inputs))
    if chained.shape != expected.shape:
        shapes = f"{tuple(chained.shape)} from the chain, {tuple(expected.shape)} from the model"
        return f"logits of shape {shapes}"
    if not torch.allclose(chained, expected, **CHECK_TOLERANCE):
        difference = (chained - expected).abs().max().item()
        return f"the chain's logits differ from the model's by up to {difference:.3g}"
    return None
