"""LoRA and its family, IA3 and prompt tuning, applied through `peft`.

We wrap `peft` rather than re-derive from it: the suite only decides *where* each method goes
(architecture presets, layer-support checks) and keeps the task head trainable through
`modules_to_save`. Papers: LoRA (Hu et al. 2021, arXiv:2106.09685), DoRA (Liu et al. 2024,
arXiv:2402.09353), IA3 (Liu et al. 2022, arXiv:2205.05638), LoHa (Hyeon-Woo et al. 2022,
arXiv:2108.06098), LoKr (Edalati et al. 2022, arXiv:2212.10650), OFT (Qiu et al. 2023,
arXiv:2306.07280), VeRA (Kopiczko et al. 2024, arXiv:2310.11454), AdaLoRA (Zhang et al. 2023,
arXiv:2303.10512), prompt tuning (Lester et al. 2021, arXiv:2104.08691).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import peft
from torch import nn

from shared.architectures import CONVOLUTIONS
from shared.methods.registry import (
    AppliedMethod,
    MethodConfig,
    MethodContext,
    MethodSpec,
    register_method,
)
from shared.targets import (
    LINEAR_LAYERS,
    LayerCheck,
    accepts,
    input_embeddings,
    resolve_targets,
    ungrouped,
)


@dataclass
class LowRankConfig(MethodConfig):
    """LoRA-style methods. `r` is the rank, `alpha` the scaling numerator (LoRA: alpha / r)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    learning_rate: float = 2e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.r < 1:
            raise ValueError(f"method.r must be at least 1, got {self.r}")


@dataclass
class IA3MethodConfig(MethodConfig):
    """IA3 learns one scaling vector per adapted layer; it has no rank."""

    learning_rate: float = 3e-3


@dataclass
class OFTMethodConfig(MethodConfig):
    """OFT learns block-diagonal orthogonal rotations of size `block_size`."""

    block_size: int = 4
    learning_rate: float = 1e-3


@dataclass
class VeRAMethodConfig(LowRankConfig):
    """VeRA shares frozen random projections of rank `r` and learns two scaling vectors."""

    r: int = 64
    learning_rate: float = 5e-3


@dataclass
class AdaLoRAMethodConfig(MethodConfig):
    """AdaLoRA starts every target at `init_r` and prunes the budget to `target_r` on average.

    `total_step` (optimizer steps of the whole run) is required by its schedule; the run fills
    it in from the trainer settings when it is left empty.
    """

    init_r: int = 12
    target_r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    total_step: int | None = None
    learning_rate: float = 5e-4


@dataclass
class PromptTuningMethodConfig(MethodConfig):
    """Soft prompt of `num_virtual_tokens` learned embeddings prepended to the input."""

    num_virtual_tokens: int = 20
    learning_rate: float = 3e-2


def oft_block_divides(block_size: int, base: LayerCheck) -> LayerCheck:
    """OFT's rotation blocks must tile the layer's input dimension exactly."""

    def check(module: nn.Module) -> str | None:
        reason = base(module)
        if reason is not None:
            return reason
        if isinstance(module, CONVOLUTIONS):
            if any(size != 1 for size in module.kernel_size):
                # peft rotates overlapping k x k input patches and sums them on fold: that is not
                # OFT's weight rotation, and it fails on feature maps smaller than the kernel.
                return "peft's OFT is exact only on 1x1 convolutions"
            width = module.in_channels
        else:
            width = module.in_features
        if width % block_size:
            return f"input width {width} is not divisible by method.block_size={block_size}"
        return None

    return check


PeftConfigBuilder = Callable[[MethodConfig, list[str], list[str], MethodContext], peft.PeftConfig]


@dataclass(frozen=True)
class PeftRecipe:
    """How one peft method is configured: which layers it takes and its peft config."""

    layer_check: Callable[[MethodConfig], LayerCheck]
    build_config: PeftConfigBuilder


def lora_config(config, targets, heads, context, *, use_dora=False) -> peft.LoraConfig:
    return peft.LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=targets,
        modules_to_save=list(heads) or None,
        use_dora=use_dora,
    )


def ia3_config(config, targets, heads, context) -> peft.IA3Config:
    feedforward_pattern = re.compile(context.preset.ia3_feedforward) if context.preset else None
    feedforward = [n for n in targets if feedforward_pattern and feedforward_pattern.fullmatch(n)]
    return peft.IA3Config(
        target_modules=targets, feedforward_modules=feedforward, modules_to_save=list(heads) or None
    )


def loha_config(config, targets, heads, context) -> peft.LoHaConfig:
    return peft.LoHaConfig(
        r=config.r,
        alpha=config.alpha,
        rank_dropout=config.dropout,
        target_modules=targets,
        modules_to_save=list(heads) or None,
    )


def lokr_config(config, targets, heads, context) -> peft.LoKrConfig:
    return peft.LoKrConfig(
        r=config.r,
        alpha=config.alpha,
        rank_dropout=config.dropout,
        target_modules=targets,
        modules_to_save=list(heads) or None,
    )


def oft_config(config, targets, heads, context) -> peft.OFTConfig:
    return peft.OFTConfig(
        r=0,
        oft_block_size=config.block_size,
        target_modules=targets,
        modules_to_save=list(heads) or None,
    )


def vera_config(config, targets, heads, context) -> peft.VeraConfig:
    return peft.VeraConfig(
        r=config.r,
        vera_dropout=config.dropout,
        target_modules=targets,
        modules_to_save=list(heads) or None,
    )


def adalora_config(config, targets, heads, context) -> peft.AdaLoraConfig:
    if config.total_step is None:
        raise ValueError("method.total_step must be set for adalora (optimizer steps of the run)")
    return peft.AdaLoraConfig(
        init_r=config.init_r,
        target_r=config.target_r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        total_step=config.total_step,
        target_modules=targets,
        modules_to_save=list(heads) or None,
    )


LOW_RANK_LAYERS = (*LINEAR_LAYERS, *CONVOLUTIONS)

RECIPES: dict[str, tuple[type[MethodConfig], PeftRecipe, str]] = {
    "lora": (
        LowRankConfig,
        PeftRecipe(lambda c: ungrouped(accepts(*LOW_RANK_LAYERS)), lora_config),
        "low-rank update B·A added to each target weight",
    ),
    "dora": (
        LowRankConfig,
        PeftRecipe(
            lambda c: ungrouped(accepts(*LOW_RANK_LAYERS)),
            lambda *a: lora_config(*a, use_dora=True),
        ),
        "LoRA on the direction of each weight plus a learned magnitude",
    ),
    "ia3": (
        IA3MethodConfig,
        PeftRecipe(lambda c: accepts(*LINEAR_LAYERS, nn.Conv2d, nn.Conv3d), ia3_config),
        "learned rescaling of keys, values and feed-forward activations",
    ),
    "loha": (
        LowRankConfig,
        PeftRecipe(lambda c: accepts(nn.Linear, nn.Conv1d, nn.Conv2d), loha_config),
        "low-rank Hadamard product update",
    ),
    "lokr": (
        LowRankConfig,
        PeftRecipe(lambda c: accepts(nn.Linear, nn.Conv1d, nn.Conv2d), lokr_config),
        "low-rank Kronecker product update",
    ),
    "oft": (
        OFTMethodConfig,
        PeftRecipe(
            lambda c: oft_block_divides(c.block_size, accepts(nn.Linear, nn.Conv2d)), oft_config
        ),
        "block-diagonal orthogonal rotation of each target weight",
    ),
    "vera": (
        VeRAMethodConfig,
        PeftRecipe(lambda c: accepts(nn.Linear), vera_config),
        "shared frozen random low-rank projections with learned scaling vectors",
    ),
    "adalora": (
        AdaLoRAMethodConfig,
        PeftRecipe(lambda c: ungrouped(accepts(*LINEAR_LAYERS, nn.Conv2d)), adalora_config),
        "SVD-form LoRA whose rank budget is re-allocated during training",
    ),
}


def make_apply(name: str, recipe: PeftRecipe):
    def apply(model: nn.Module, config: MethodConfig, context: MethodContext) -> AppliedMethod:
        pattern = config.target_modules or (context.preset.attention if context.preset else None)
        if pattern is None:
            raise ValueError(f"method.target_modules must be set for {name} on this model")
        if name == "ia3" and config.target_modules is None and context.preset:
            pattern = context.preset.ia3
        targets, skipped = resolve_targets(
            model, pattern, recipe.layer_check(config), method=name, exclude=context.head_names
        )
        peft_config = recipe.build_config(config, targets, context.head_names, context)
        wrapped = peft.get_peft_model(model, peft_config)
        return AppliedMethod(wrapped, targets, skipped)

    return apply


def prompt_tuning_task_type(model: nn.Module, context: MethodContext) -> peft.TaskType:
    """peft's wrapper class follows the task type, and only the generative ones can `generate`
    with the soft prompt in place (for an encoder-decoder, in front of the encoder input)."""
    if context.head_names:
        return peft.TaskType.SEQ_CLS
    if getattr(model.config, "is_encoder_decoder", False):
        return peft.TaskType.SEQ_2_SEQ_LM
    return peft.TaskType.CAUSAL_LM


def apply_prompt_tuning(
    model: nn.Module, config: PromptTuningMethodConfig, context: MethodContext
) -> AppliedMethod:
    """Prompt tuning needs token embeddings, so only transformers text models take it (an audio
    encoder's input "embedding" is a convolution over spectrogram frames)."""
    has_config = getattr(model, "config", None) is not None
    if not has_config or not isinstance(input_embeddings(model), nn.Embedding):
        raise ValueError(
            f"method.name=prompt_tuning needs a transformers text model with token embeddings; "
            f"{type(model).__name__} has none"
        )
    peft_config = peft.PromptTuningConfig(
        task_type=prompt_tuning_task_type(model, context),
        num_virtual_tokens=config.num_virtual_tokens,
        # For encoder-decoders peft defaults to a second prompt for the decoder, but its prompt
        # tuning prepends only the encoder's: the second would be counted, saved, never trained.
        num_transformer_submodules=1,
        modules_to_save=list(context.head_names) or None,
    )
    wrapped = peft.get_peft_model(model, peft_config)
    return AppliedMethod(wrapped, ["prompt_encoder"], {})


def merge_peft(model: peft.PeftModel) -> nn.Module:
    return model.merge_and_unload()


for _name, (_config_class, _recipe, _summary) in RECIPES.items():
    register_method(
        MethodSpec(
            name=_name,
            config_class=_config_class,
            apply=make_apply(_name, _recipe),
            merge=merge_peft,
            uses_peft=True,
            summary=_summary,
        )
    )

register_method(
    MethodSpec(
        name="prompt_tuning",
        config_class=PromptTuningMethodConfig,
        apply=apply_prompt_tuning,
        merge=None,
        uses_peft=True,
        summary="learned soft-prompt embeddings prepended to the input (text models)",
    )
)
