"""Tests for pipelines.translation.datamodule: loaders per split, one per test set, in order."""

import pytest
from tiny_models import tiny_random_gemma3, tiny_translation_splits, tiny_translation_tokenizer

from pipelines.translation.backbones import translation_backbone
from pipelines.translation.datamodule import TranslationDataModule
from shared.length_buckets import LengthBucketBatchSampler


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


def test_length_buckets_batch_training_by_length_and_test_sets_sorted():
    module = datamodule(length_buckets=True, bucket_batches=2, batch_size=2)
    module.setup("fit")
    sampler = module.train_dataloader().batch_sampler
    assert isinstance(sampler, LengthBucketBatchSampler) and sampler.pool_batches == 2
    # Bucketed by the tokens the model will see: prompt plus target, as collated.
    batch = module.collate_fn([module.datasets["train"][0]])
    assert sampler.lengths[0] == batch["inputs"]["attention_mask"].sum()
    batches = list(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    test = module.lengths("test")["generation"]
    served = [i for batch in module.test_dataloader()[0] for i in batch["indices"]]
    assert [test[i] for i in served] == sorted(test, reverse=True)
    # Validation keeps the file order: val_chrf is always over the same first sentences.
    assert [i for batch in module.val_dataloader() for i in batch["indices"]] == [0, 1, 2, 3]


def test_padding_shares_are_reported_before_and_after_bucketing():
    shares = datamodule(length_buckets=True).padding_shares()
    assert set(shares) == {"train", "test"}
    assert shares["train"]["length_buckets"] <= shares["train"]["random"]
    assert shares["test"]["length_buckets"] <= shares["test"]["file_order"]


def test_lightning_reseeds_the_bucket_order_each_epoch():
    from lightning.fabric.utilities.data import _set_sampler_epoch

    module = datamodule(length_buckets=True, batch_size=2)
    module.setup("fit")
    loader = module.train_dataloader()
    first = list(loader.batch_sampler)
    _set_sampler_epoch(loader, 1)
    assert list(loader.batch_sampler) != first
    _set_sampler_epoch(loader, 0)
    assert list(loader.batch_sampler) == first
