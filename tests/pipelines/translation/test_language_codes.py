"""Tests for pipelines.translation.language_codes on tiny random mBART-50, NLLB (M2M-100) and T5
models with tokenizers built here: the source starts with the source language code, the labels
with the target code, generation is forced to start with the target code (also with a trimmed
output vocabulary), and T5 reads "translate English to Hausa: " before the source."""

from __future__ import annotations

import string

import pytest
import torch
from tiny_models import tiny_random_gemma3, tiny_random_t5, tiny_translation_tokenizer
from transformers import (
    M2M100Config,
    M2M100ForConditionalGeneration,
    MBart50Tokenizer,
    MBartConfig,
    MBartForConditionalGeneration,
    NllbTokenizer,
)

from pipelines.translation.backbones import TranslationBackbone, translation_backbone
from pipelines.translation.collate import TranslationCollator
from pipelines.translation.language_codes import LanguageSetup, set_up_languages
from pipelines.translation.lightning_module import PeftTranslator
from pipelines.translation.prompts import PromptTemplate
from pipelines.translation.target_logits import target_only_loss
from pipelines.translation.vocabulary import build_output_vocabulary, trim_output_layer
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = ["▁", *string.ascii_lowercase, *[f"▁{c}" for c in string.ascii_lowercase]]
PAIRS = [
    {"source": "the house is small", "target": "gidan yana da kankanta"},
    {"source": "good morning", "target": "ina kwana"},
]
SIZES = {"d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_ffn_dim": 32}
SIZES |= {"decoder_ffn_dim": 32, "encoder_attention_heads": 2, "decoder_attention_heads": 2}
SIZES |= {"max_position_embeddings": 64, "bos_token_id": 0, "pad_token_id": 1}
SIZES |= {"eos_token_id": 2, "decoder_start_token_id": 2, "forced_eos_token_id": None}


def tiny_nllb() -> TranslationBackbone:
    tokenizer = NllbTokenizer(vocab={token: i for i, token in enumerate(SPECIALS + PIECES)})
    torch.manual_seed(0)
    model = M2M100ForConditionalGeneration(M2M100Config(vocab_size=len(tokenizer), **SIZES))
    return translation_backbone(model.eval(), tokenizer)


def tiny_mbart50() -> TranslationBackbone:
    tokenizer = MBart50Tokenizer(vocab=[(token, 0.0) for token in SPECIALS + PIECES])
    torch.manual_seed(0)
    model = MBartForConditionalGeneration(MBartConfig(vocab_size=len(tokenizer), **SIZES))
    return translation_backbone(model.eval(), tokenizer)


def collate(backbone: TranslationBackbone, setup: LanguageSetup) -> dict:
    collator = TranslationCollator(
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        prompt=PromptTemplate(),
        source_language="English",
        target_language="Hausa",
        max_source_tokens=16,
        max_target_tokens=16,
        source_prefix=setup.source_prefix,
    )
    return collator(PAIRS)


def translator(backbone: TranslationBackbone, setup: LanguageSetup) -> PeftTranslator:
    model, report = inject_method(backbone.model, {"name": "lora"})
    return PeftTranslator(
        model,
        report,
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        learning_rate=1e-3,
        max_new_tokens=6,
        forced_bos_token_id=setup.forced_bos_token_id,
    )


@pytest.mark.parametrize(
    ("build", "target", "codes"),
    [(tiny_nllb, "hau", ("eng_Latn", "hau_Latn")), (tiny_mbart50, "swa", ("en_XX", "sw_KE"))],
    ids=["nllb", "mbart50"],
)
def test_language_codes_frame_source_labels_and_the_first_generated_token(build, target, codes):
    backbone = build()
    setup = set_up_languages(backbone, "eng", target)
    source_id, target_id = backbone.tokenizer.convert_tokens_to_ids(list(codes))

    assert (setup.source_code, setup.target_code) == codes
    assert setup.forced_bos_token_id == target_id
    batch = collate(backbone, setup)
    assert (batch["inputs"]["input_ids"][:, 0] == source_id).all()
    assert (batch["inputs"]["labels"][:, 0] == target_id).all()
    module = translator(backbone, setup)
    with torch.no_grad():
        output = module.generate(batch["generation_inputs"])
        loss = target_only_loss(module.model, batch["inputs"], "seq2seq")
        assert torch.isclose(loss, module.model(**batch["inputs"]).loss)
    assert (output[:, 1] == target_id).all(), "the first generated token is the target code"


def test_forced_target_code_survives_a_trimmed_output_vocabulary():
    backbone = tiny_nllb()
    setup = set_up_languages(backbone, "eng", "hau")
    batch = collate(backbone, setup)
    vocabulary = build_output_vocabulary(
        full_size=len(backbone.tokenizer),
        required={
            "special tokens": [backbone.tokenizer.all_special_ids],
            "training targets": [[t for t in row if t >= 0] for row in batch["inputs"]["labels"]],
        },
        monolingual=[],
    )
    trim_output_layer(backbone.model, vocabulary)
    with torch.no_grad():
        output = translator(backbone, setup).generate(batch["generation_inputs"])
    assert (output[:, 1] == setup.forced_bos_token_id).all()
    assert set(output.flatten().tolist()) <= set(vocabulary.kept_ids)


def test_a_language_the_model_has_no_code_for_is_refused_naming_the_field():
    refused = r"data\.options\.target='hau': model\.name='mbart' has no language code"
    with pytest.raises(ValueError, match=refused):
        set_up_languages(tiny_mbart50(), "eng", "hau", "mbart")


def test_t5_reads_its_task_prefix_and_other_models_need_nothing():
    t5 = translation_backbone(tiny_random_t5(), tiny_translation_tokenizer(appends_eos=True))
    setup = set_up_languages(t5, "eng", "hau")
    assert setup == LanguageSetup(source_prefix="translate English to Hausa: ")
    encoded = collate(t5, setup)["inputs"]["input_ids"][0]
    text = t5.tokenizer.decode(encoded, skip_special_tokens=True)
    assert text == "translate English to Hausa: " + PAIRS[0]["source"]

    gemma = translation_backbone(tiny_random_gemma3(), tiny_translation_tokenizer())
    assert set_up_languages(gemma, "eng", "hau") == LanguageSetup()
