"""Tests for pipelines.translation.backbones: picking the model class, and the fix-ups."""

import pytest
import torch
from tiny_models import (
    tiny_random_gemma3,
    tiny_random_marian,
    tiny_random_t5,
    tiny_translation_tokenizer,
)

from pipelines.translation.backbones import build_translation_model, translation_backbone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_tokenizer_without_pad_token_pads_with_eos_and_the_model_knows():
    tokenizer = tiny_translation_tokenizer(has_pad_token=False)
    assert tokenizer.pad_token is None
    backbone = translation_backbone(tiny_random_gemma3(), tokenizer)

    assert backbone.tokenizer.pad_token == backbone.tokenizer.eos_token
    assert backbone.model.config.pad_token_id == backbone.tokenizer.eos_token_id
    assert backbone.model.generation_config.pad_token_id is not None


def test_decoder_only_model_pads_on_the_left_for_generation():
    backbone = translation_backbone(tiny_random_gemma3(), tiny_translation_tokenizer())
    assert backbone.architecture == "causal"
    assert backbone.tokenizer.padding_side == "left"
    assert not backbone.model.training


@pytest.mark.parametrize("build", [tiny_random_t5, tiny_random_marian], ids=["t5", "marian"])
def test_encoder_decoder_is_seq2seq_and_keeps_right_padding(build):
    backbone = translation_backbone(build(), tiny_translation_tokenizer(appends_eos=True))
    assert backbone.architecture == "seq2seq"
    assert backbone.tokenizer.padding_side == "right"


def test_decoder_only_model_whose_tokenizer_has_no_eos_is_rejected():
    tokenizer = tiny_translation_tokenizer()
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match=r"model.name='tiny': .* no end-of-sequence token"):
        translation_backbone(tiny_random_gemma3(), tokenizer, "tiny")


@pytest.mark.parametrize(
    ("build", "appends_eos", "architecture", "model_class"),
    [
        (tiny_random_gemma3, False, "causal", "Gemma3ForCausalLM"),
        (tiny_random_t5, True, "seq2seq", "T5ForConditionalGeneration"),
        (tiny_random_marian, True, "seq2seq", "MarianMTModel"),
    ],
    ids=["gemma3", "t5", "marian"],
)
def test_model_folder_loads_with_the_class_its_config_asks_for(
    build, appends_eos, architecture, model_class, tmp_path
):
    saved = build()
    saved.save_pretrained(tmp_path)
    tiny_translation_tokenizer(appends_eos=appends_eos).save_pretrained(tmp_path)

    backbone = build_translation_model(str(tmp_path))

    assert backbone.architecture == architecture
    assert type(backbone.model).__name__ == model_class
    loaded = dict(backbone.model.named_parameters())
    for name, parameter in saved.named_parameters():
        assert torch.equal(loaded[name], parameter), name


def test_unloadable_name_says_which_names_work_offline(tmp_path):
    with pytest.raises(ValueError, match=r"model.name=.*cannot load.*Offline, use one of: gemma3"):
        build_translation_model(str(tmp_path / "missing"))
