"""Tests for pipelines.translation.collate: what the loss sees, and what generation starts from."""

import pytest
import torch
from tiny_models import (
    TINY_PARALLEL_PAIRS,
    tiny_random_gemma3,
    tiny_translation_tokenizer,
)

from pipelines.translation.backbones import translation_backbone
from pipelines.translation.collate import IGNORED_LABEL, TranslationCollator
from pipelines.translation.prompts import PromptTemplate

PAIRS = [{"source": source, "target": target} for source, target in TINY_PARALLEL_PAIRS[:3]]


def collator(tokenizer, architecture, **limits) -> TranslationCollator:
    limits = {"max_source_tokens": 64, "max_target_tokens": 64} | limits
    return TranslationCollator(
        tokenizer, architecture, PromptTemplate(), "English", "Hausa", **limits
    )


def causal_tokenizer(has_pad_token: bool = True):
    tokenizer = tiny_translation_tokenizer(has_pad_token=has_pad_token)
    return translation_backbone(tiny_random_gemma3(), tokenizer).tokenizer


def real_tokens(ids: torch.Tensor, mask: torch.Tensor) -> list[int]:
    return ids[mask.bool()].tolist()


@pytest.mark.parametrize("has_pad_token", [True, False], ids=["pad", "eos-as-pad"])
def test_causal_labels_cover_the_target_and_eos_only(has_pad_token):
    tokenizer = causal_tokenizer(has_pad_token)
    batch = collator(tokenizer, "causal")(PAIRS)
    inputs = batch["inputs"]
    prompts = collator(tokenizer, "causal").prompts(batch["sources"])

    for row, (prompt, pair) in enumerate(zip(prompts, PAIRS, strict=True)):
        prompt_length = len(tokenizer(prompt)["input_ids"])
        labels, mask = inputs["labels"][row], inputs["attention_mask"][row]
        assert (labels[:prompt_length] == IGNORED_LABEL).all(), "prompt tokens must carry no loss"
        assert (labels[mask == 0] == IGNORED_LABEL).all(), "padding must carry no loss"
        answer = labels[labels != IGNORED_LABEL]
        assert answer[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(answer[:-1]) == " " + pair["target"]
        # labels are the inputs themselves (the model shifts them), so the answer is in the input
        assert torch.equal(inputs["input_ids"][row][labels != IGNORED_LABEL], answer)


def test_causal_training_pads_right_and_generation_pads_left_from_the_same_prompt_ids():
    tokenizer = causal_tokenizer()
    batch = collator(tokenizer, "causal")(PAIRS)
    training, generation = batch["inputs"], batch["generation_inputs"]

    assert set(generation) == {"input_ids", "attention_mask"}
    assert (training["attention_mask"][:, 0] == 1).all()  # right padded: real tokens first
    assert (generation["attention_mask"][:, -1] == 1).all()  # left padded: real tokens last
    assert (generation["attention_mask"][:, 0] == 0).any()
    for row in range(len(PAIRS)):
        prompt = real_tokens(generation["input_ids"][row], generation["attention_mask"][row])
        assert prompt[0] == tokenizer.bos_token_id
        assert training["input_ids"][row][: len(prompt)].tolist() == prompt
        assert tokenizer.decode(prompt, skip_special_tokens=True).endswith("\nHausa:")


def test_long_sources_and_targets_are_cut_but_the_prompt_keeps_its_ending():
    tokenizer = causal_tokenizer()
    batch = collator(tokenizer, "causal", max_source_tokens=3, max_target_tokens=4)(PAIRS)

    labelled = (batch["inputs"]["labels"] != IGNORED_LABEL).sum(dim=1)
    assert (labelled == 4).all()  # three target tokens and eos
    for row in range(len(PAIRS)):
        ids = batch["generation_inputs"]["input_ids"][row]
        prompt = tokenizer.decode(ids, skip_special_tokens=True)
        source = prompt.split("\nEnglish: ")[1].split("\nHausa:")[0]
        assert len(tokenizer(source, add_special_tokens=False)["input_ids"]) <= 3
        assert PAIRS[row]["source"].startswith(source) and prompt.endswith("\nHausa:")


def test_seq2seq_reads_the_source_and_learns_the_target_with_eos():
    tokenizer = tiny_translation_tokenizer(appends_eos=True)
    batch = collator(tokenizer, "seq2seq")(PAIRS)
    inputs = batch["inputs"]

    for row, pair in enumerate(PAIRS):
        source = real_tokens(inputs["input_ids"][row], inputs["attention_mask"][row])
        assert source == tokenizer(pair["source"])["input_ids"]
        answer = inputs["labels"][row][inputs["labels"][row] != IGNORED_LABEL].tolist()
        assert answer == tokenizer(text_target=pair["target"])["input_ids"]
        assert answer[-1] == tokenizer.eos_token_id
    assert (inputs["labels"] == IGNORED_LABEL).any(), "padding must carry no loss"
    assert batch["generation_inputs"].keys() == {"input_ids", "attention_mask"}
    assert torch.equal(batch["generation_inputs"]["input_ids"], inputs["input_ids"])
    assert batch["sources"] == [p["source"] for p in PAIRS]
    assert batch["references"] == [p["target"] for p in PAIRS]


def test_seq2seq_truncation_lengths_hold():
    tokenizer = tiny_translation_tokenizer(appends_eos=True)
    batch = collator(tokenizer, "seq2seq", max_source_tokens=5, max_target_tokens=3)(PAIRS)
    assert batch["inputs"]["input_ids"].shape[1] == 5
    assert batch["inputs"]["labels"].shape[1] == 3


@pytest.mark.parametrize("field", ["max_source_tokens", "max_target_tokens"])
def test_truncation_length_below_two_is_rejected(field):
    with pytest.raises(ValueError, match=f"data.{field} must be at least 2"):
        collator(tiny_translation_tokenizer(), "causal", **{field: 1})
