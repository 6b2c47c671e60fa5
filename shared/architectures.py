"""Recognise a backbone's architecture family and where each kind of PEFT method attaches to it.

Every method needs to know *where* to go: LoRA on attention projections, bottleneck adapters
after the attention and feed-forward sublayers, IA3 on keys, values and feed-forward outputs.
Those places differ per family (BERT names `query`, Whisper `q_proj`, timm ViTs fuse `qkv`), so
they live here as data, one preset per family, and the user can override any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True)
class ArchitecturePreset:
    """Regular expressions (matched against full module names) for each attachment role.

    Attributes:
        attention: default targets of low-rank methods (LoRA and its family).
        ia3: modules whose activations IA3 rescales.
        ia3_feedforward: the subset of `ia3` that are feed-forward layers (IA3 scales their input).
        adapter_attention: outputs after which a Houlsby adapter's first bottleneck goes.
        adapter_feedforward: outputs after which the (Houlsby second / Pfeiffer only) adapter goes.
    """

    family: str
    attention: str
    ia3: str
    ia3_feedforward: str
    adapter_attention: str
    adapter_feedforward: str


PRESETS: dict[str, ArchitecturePreset] = {
    preset.family: preset
    for preset in (
        ArchitecturePreset(
            family="bert_encoder",
            attention=r".*\.attention\.self\.(query|value)",
            ia3=r".*\.attention\.self\.(key|value)|.*\.layer\.\d+\.output\.dense",
            ia3_feedforward=r".*\.layer\.\d+\.output\.dense",
            adapter_attention=r".*\.attention\.output\.dense",
            adapter_feedforward=r".*\.layer\.\d+\.output\.dense",
        ),
        ArchitecturePreset(
            family="whisper",
            attention=r".*encoder\.layers\.\d+\.self_attn\.(q_proj|v_proj)",
            ia3=r".*encoder\.layers\.\d+\.(self_attn\.(k_proj|v_proj)|fc2)",
            ia3_feedforward=r".*encoder\.layers\.\d+\.fc2",
            adapter_attention=r".*encoder\.layers\.\d+\.self_attn\.out_proj",
            adapter_feedforward=r".*encoder\.layers\.\d+\.fc2",
        ),
        ArchitecturePreset(
            # wav2vec2, HuBERT, WavLM and kin: transformer layers over a convolutional feature
            # encoder (`feature_extractor.conv_layers`) that no role reaches, so it stays frozen.
            family="wav2vec2_encoder",
            attention=r".*encoder\.layers\.\d+\.attention\.(q_proj|v_proj)",
            ia3=r".*encoder\.layers\.\d+\.(attention\.(k_proj|v_proj)|feed_forward\.output_dense)",
            ia3_feedforward=r".*encoder\.layers\.\d+\.feed_forward\.output_dense",
            adapter_attention=r".*encoder\.layers\.\d+\.attention\.out_proj",
            adapter_feedforward=r".*encoder\.layers\.\d+\.feed_forward\.output_dense",
        ),
        ArchitecturePreset(
            family="decoder_lm",
            attention=r".*layers\.\d+\.self_attn\.(q_proj|v_proj)",
            ia3=r".*layers\.\d+\.(self_attn\.(k_proj|v_proj)|mlp\.down_proj)",
            ia3_feedforward=r".*layers\.\d+\.mlp\.down_proj",
            adapter_attention=r".*layers\.\d+\.self_attn\.o_proj",
            adapter_feedforward=r".*layers\.\d+\.mlp\.down_proj",
        ),
        ArchitecturePreset(
            # T5 and mT5, encoder and decoder: self-attention in both, cross-attention in the
            # decoder; `wo` is the feed-forward output (after the gated `wi_0`/`wi_1` in mT5).
            family="seq2seq_t5",
            attention=r".*\.(SelfAttention|EncDecAttention)\.(q|v)",
            ia3=r".*\.(SelfAttention|EncDecAttention)\.(k|v)|.*\.DenseReluDense\.wo",
            ia3_feedforward=r".*\.DenseReluDense\.wo",
            adapter_attention=r".*\.(SelfAttention|EncDecAttention)\.o",
            adapter_feedforward=r".*\.DenseReluDense\.wo",
        ),
        ArchitecturePreset(
            # BART-style encoder-decoders (Marian, mBART, NLLB/M2M100): decoder layers add
            # `encoder_attn` beside `self_attn`.
            family="seq2seq_bart",
            attention=r".*layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|v_proj)",
            ia3=r".*layers\.\d+\.((self_attn|encoder_attn)\.(k_proj|v_proj)|fc2)",
            ia3_feedforward=r".*layers\.\d+\.fc2",
            adapter_attention=r".*layers\.\d+\.(self_attn|encoder_attn)\.out_proj",
            adapter_feedforward=r".*layers\.\d+\.fc2",
        ),
        ArchitecturePreset(
            family="timm_vit",
            attention=r"blocks\.\d+\.attn\.qkv",
            ia3=r"blocks\.\d+\.(attn\.qkv|mlp\.fc2)",
            ia3_feedforward=r"blocks\.\d+\.mlp\.fc2",
            adapter_attention=r"blocks\.\d+\.attn\.proj",
            adapter_feedforward=r"blocks\.\d+\.mlp\.fc2",
        ),
        ArchitecturePreset(
            # Pointwise and full convolutions inside the stages; stems and depthwise convs are
            # filtered out per method by the layer-support check in `targets.py`.
            family="timm_cnn",
            attention=r"(blocks|stages|layer\d)\..*conv\w*",
            # Every one of these convolutions feeds a BatchNorm, which in train mode undoes any
            # per-channel rescaling of its output; IA3 scales their (post-activation) inputs.
            # Depthwise convs are left out: scaling their input is scaling their output.
            ia3=r"(blocks|stages|layer\d)\..*\.(conv_pw|conv_pwl|conv\d)",
            ia3_feedforward=r"(blocks|stages|layer\d)\..*\.(conv_pw|conv_pwl|conv\d)",
            # After the projection back to block width, not the 6x-expanded depthwise output.
            adapter_attention=r"(blocks|stages|layer\d)\..*\.(conv_pwl|conv2)",
            adapter_feedforward=r"(blocks\.\d+\.\d+|stages\.\d+\.blocks\.\d+|layer\d\.\d+)",
        ),
        ArchitecturePreset(
            family="monai_net",
            attention=r"features\..*\.(conv\d|layers\.conv\d)",
            ia3=r"features\..*\.(conv\d|layers\.conv\d)",
            # Each of these feeds only BatchNorms, which undo an output rescaling in train mode.
            ia3_feedforward=r"features\..*\.(conv\d|layers\.conv\d)",
            # A dense layer's output is its input concatenated with new features, so adapters go
            # on the convolutions that make the new features.
            adapter_attention=r"features\..*\.layers\.conv1",
            adapter_feedforward=r"features\..*\.layers\.conv2",
        ),
    )
}

BERT_LIKE = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta", "mpnet"}
DECODER_LMS = {"llama", "gemma", "gemma2", "gemma3", "gemma3_text", "mistral", "qwen2", "qwen3"}
T5_LIKE = {"t5", "mt5", "umt5"}
BART_LIKE = {"bart", "mbart", "marian", "m2m_100"}
WAV2VEC2_LIKE = {
    "wav2vec2",
    "hubert",
    "wavlm",
    "data2vec-audio",
    "unispeech",
    "unispeech-sat",
    "sew",
}


def detect_family(model: nn.Module) -> str:
    """Name the architecture family of `model`, one of `PRESETS`' keys.

    Raises a ValueError naming `method.family` when nothing fits, so the user can set it.
    """
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type in BERT_LIKE:
        return "bert_encoder"
    if model_type == "whisper":
        return "whisper"
    if model_type in WAV2VEC2_LIKE:
        return "wav2vec2_encoder"
    if model_type in DECODER_LMS:
        return "decoder_lm"
    if model_type in T5_LIKE:
        return "seq2seq_t5"
    if model_type in BART_LIKE:
        return "seq2seq_bart"
    module_path = type(model).__module__
    if module_path.startswith("timm."):
        is_vit = any(name.endswith("attn.qkv") for name, _ in model.named_modules())
        return "timm_vit" if is_vit else "timm_cnn"
    if module_path.startswith("monai."):
        return "monai_net"
    raise ValueError(
        f"cannot tell the architecture family of {type(model).__name__} ({module_path}); "
        f"set method.family to one of {sorted(PRESETS)} or give method.target_modules"
    )


def matching_module_names(model: nn.Module, pattern: str | list[str]) -> list[str]:
    """Names of modules matching `pattern`: a regex (full match) or a list of name suffixes.

    The list form follows `peft`: an entry matches a module whose name equals it or ends
    with `.entry`.
    """
    names = [name for name, _ in model.named_modules() if name]
    if isinstance(pattern, str):
        compiled = re.compile(pattern)
        return [name for name in names if compiled.fullmatch(name)]
    suffixes = list(pattern)
    return [name for name in names if any(name == s or name.endswith("." + s) for s in suffixes)]
