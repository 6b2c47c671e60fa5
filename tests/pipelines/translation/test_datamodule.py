"""Tests for pipelines.translation.datamodule: loaders per split, one per test set, in order."""

import pytest
from tiny_models import tiny_random_gemma3, tiny_translation_splits, tiny_translation_tokenizer

from pipelines.translation.backbones import translation_backbone
from pipelines.translation.datamodule import TranslationDataModule


def datamodule(**options) -> TranslationDataModule:
    backbone = translation_backbone(tiny_random_gemma3(), tiny_translation_tokenizer())
    settings = {"max_source_tokens": 32, "max_target_tokens": 32, "batch_size": 4}
    return TranslationDataModule(
        tiny_translation_splits(), backbone, eval_batch_size=2, **(settings | options)
    )


def test_one_test_loader_per_test_set_in_order_and_unshuffled():
    module = datamodule()
    module.setup("test")
    splits = tiny_translation_splits()

    loaders = module.test_dataloader()
    assert module.test_set_names() == ["test", "out_of_domain"]
    assert len(loaders) == 2
    for loader, pairs in zip(loaders, splits.tests.values(), strict=True):
        references = [ref for batch in loader for ref in batch["references"]]
        assert references == pairs.targets


def test_batches_carry_texts_training_inputs_and_generation_inputs():
    module = datamodule()
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert len(batch["sources"]) == 4
    assert {"input_ids", "attention_mask", "labels"} <= set(batch["inputs"])
    assert len(module.val_dataloader()) == 2  # 4 validation pairs, 2 per batch


def test_prompts_name_the_languages_of_the_splits():
    module = datamodule()
    module.setup("test")
    batch = next(iter(module.test_dataloader()[0]))
    prompt = module.collate_fn.tokenizer.decode(
        batch["generation_inputs"]["input_ids"][0], skip_special_tokens=True
    )
    assert prompt.startswith("Translate from English to Hausa.\nEnglish: ")


def test_prompt_without_source_fails_before_training():
    with pytest.raises(ValueError, match=r"data\.options\.prompt: .* no \{source\} placeholder"):
        datamodule(prompt="Translate into {target_language}:")
