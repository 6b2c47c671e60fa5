"""Tests for pipelines.translation.generation: repetition controls see the translation only,
never the prompt, and a translator with them on never repeats an n-gram of its own output."""

import pytest
import torch
from tiny_models import tiny_random_gemma3, tiny_translation_splits, tiny_translation_tokenizer
from transformers import NoRepeatNGramLogitsProcessor

from pipelines.translation.backbones import translation_backbone
from pipelines.translation.datamodule import TranslationDataModule
from pipelines.translation.generation import GeneratedTokensOnly, translation_processors
from pipelines.translation.lightning_module import PeftTranslator
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def banned(processor, input_ids: list[int]) -> set[int]:
    scores = processor(torch.tensor([input_ids]), torch.zeros(1, 12))
    return set(torch.nonzero(scores[0] == float("-inf")).flatten().tolist())


def test_no_repeat_ngram_ignores_the_prompt_but_not_the_translation():
    prompt = [5, 6, 7]
    everywhere = NoRepeatNGramLogitsProcessor(2)
    translation_only = GeneratedTokensOnly(NoRepeatNGramLogitsProcessor(2), start=len(prompt))

    assert banned(everywhere, [*prompt, 5]) == {6}  # transformers bans copying "5 6"
    assert banned(translation_only, [*prompt, 5]) == set()
    assert banned(translation_only, [*prompt, 5, 6, 5]) == {6}


def test_repetition_penalty_scores_only_generated_tokens():
    processors = translation_processors(start=3, repetition_penalty=2.0)
    scores = processors(torch.tensor([[4, 4, 4, 9]]), torch.ones(1, 12))
    assert scores[0, 9] == 0.5 and scores[0, 4] == 1.0


def test_processors_are_off_by_default():
    assert len(translation_processors(start=3)) == 0


def test_translator_with_no_repeat_ngram_never_repeats_one():
    backbone = translation_backbone(tiny_random_gemma3(), tiny_translation_tokenizer())
    model, report = inject_method(backbone.model, {"name": "lora"})
    data = TranslationDataModule(
        tiny_translation_splits(),
        backbone,
        max_source_tokens=32,
        max_target_tokens=32,
        batch_size=3,
        eval_batch_size=3,
    )
    data.setup()
    inputs = next(iter(data.val_dataloader()))["generation_inputs"]

    def generated(**options) -> list[list[int]]:
        translator = PeftTranslator(
            model,
            report,
            tokenizer=backbone.tokenizer,
            architecture="causal",
            learning_rate=1e-3,
            max_new_tokens=16,
            **options,
        )
        with torch.no_grad():
            output = translator.generate(inputs)
        return output[:, translator.generation_start(inputs) :].tolist()

    def repeats(ids: list[int], size: int) -> int:
        ngrams = [tuple(ids[i : i + size]) for i in range(len(ids) - size + 1)]
        return len(ngrams) - len(set(ngrams))

    greedy, controlled = generated(), generated(no_repeat_ngram_size=2)
    assert sum(repeats(ids, 2) for ids in greedy) > 0, "the random model repeats itself"
    assert all(repeats(ids, 2) == 0 for ids in controlled)
    assert generated(repetition_penalty=1.5) != greedy
