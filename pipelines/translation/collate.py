"""Sentence pairs to model inputs: teacher-forced training inputs and generation prompts.

A decoder-only model reads `prompt + " " + target + eos` and learns only the target part: the
prompt and the padding carry label -100, so they add nothing to the loss. Prompt and target are
tokenised separately and joined as ids, so the prompt a model generates from at test time is
exactly the token prefix it was trained on. An encoder-decoder reads the source and learns the
target as its labels.

Every batch carries both kinds of input, built from one tokenisation: `inputs` (with `labels`,
right padded) for the loss and `generation_inputs` (left padded for decoder-only models, so
every prompt ends where generation starts) for `generate`.

Encoder-decoders that were trained with a task prefix (T5: "translate English to German: ")
read the source behind `source_prefix`; models with language codes (mBART, NLLB) get them from
their tokenizer, set up by `language_codes.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import PreTrainedTokenizerBase

from pipelines.translation.backbones import Architecture
from pipelines.translation.prompts import PromptTemplate

IGNORED_LABEL = -100  # what transformers' cross-entropy skips


def truncate_to_tokens(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_tokens: int
) -> list[str]:
    """Each text cut to its first `max_tokens` tokens (texts that fit are left untouched).

    A decoder-only prompt must keep its ending ("Hausa:"), so the source sentence is cut before
    it goes into the template rather than the prompt after.
    """
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [
        text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens])
        for text, ids in zip(texts, encoded, strict=True)
    ]


def pad(sequences: list[list[int]], value: int, side: str) -> torch.Tensor:
    tensors = [torch.tensor(ids, dtype=torch.long) for ids in sequences]
    return pad_sequence(tensors, batch_first=True, padding_value=value, padding_side=side)


def causal_training_inputs(
    tokenizer: PreTrainedTokenizerBase,
    prompt_ids: list[list[int]],
    targets: list[str],
    max_target_tokens: int,
) -> dict[str, torch.Tensor]:
    """`prompt + " " + target + eos`, right padded, with labels on the target and eos only."""
    target_ids = tokenizer(
        [" " + target for target in targets],
        add_special_tokens=False,
        truncation=True,
        max_length=max_target_tokens - 1,  # room for eos
    )["input_ids"]
    sequences, labels = [], []
    for prompt, target in zip(prompt_ids, target_ids, strict=True):
        answer = [*target, tokenizer.eos_token_id]
        sequences.append([*prompt, *answer])
        labels.append([IGNORED_LABEL] * len(prompt) + answer)
    input_ids = pad(sequences, tokenizer.pad_token_id, "right")
    attention_mask = pad([[1] * len(ids) for ids in sequences], 0, "right")
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": pad(labels, IGNORED_LABEL, "right"),
    }


def causal_generation_inputs(
    tokenizer: PreTrainedTokenizerBase, prompt_ids: list[list[int]]
) -> dict[str, torch.Tensor]:
    """The prompts alone, left padded."""
    return {
        "input_ids": pad(prompt_ids, tokenizer.pad_token_id, "left"),
        "attention_mask": pad([[1] * len(ids) for ids in prompt_ids], 0, "left"),
    }


def seq2seq_inputs(
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    targets: list[str],
    *,
    max_source_tokens: int,
    max_target_tokens: int,
) -> dict[str, torch.Tensor]:
    """Sources as encoder input and targets as labels (-100 on padding), right padded."""
    limits = {"truncation": True, "padding": True, "padding_side": "right", "return_tensors": "pt"}
    encoded = tokenizer(sources, max_length=max_source_tokens, **limits)
    target = tokenizer(text_target=targets, max_length=max_target_tokens, **limits)
    labels = target["input_ids"].masked_fill(target["attention_mask"] == 0, IGNORED_LABEL)
    return {
        "input_ids": encoded["input_ids"],
        "attention_mask": encoded["attention_mask"],
        "labels": labels,
    }


@dataclass(frozen=True)
class TranslationCollator:
    """Turns a list of `{"source", "target"}` pairs into one batch for a `TranslationBackbone`.

    Attributes:
        source_language, target_language: language names ("English"), for the prompt.
        max_source_tokens: longest source sentence in tokens (the prompt template comes on top).
        max_target_tokens: longest target in tokens, end-of-sequence token included.
        source_prefix: put before each source sentence of an encoder-decoder (T5's task
            prefix); its tokens come on top of `max_source_tokens`.

    A batch is a dict: `sources`, `references` (the texts), `inputs` (with `labels`),
    `generation_inputs`, and `indices` when the pairs carry an `index` (their place in the set).
    """

    tokenizer: PreTrainedTokenizerBase
    architecture: Architecture
    prompt: PromptTemplate
    source_language: str
    target_language: str
    max_source_tokens: int
    max_target_tokens: int
    source_prefix: str = ""

    def __post_init__(self) -> None:
        for name in ("max_source_tokens", "max_target_tokens"):
            if getattr(self, name) < 2:
                raise ValueError(f"data.{name} must be at least 2, got {getattr(self, name)}")

    def prompts(self, sources: list[str]) -> list[str]:
        return [
            self.prompt.format(
                source,
                source_language=self.source_language,
                target_language=self.target_language,
            )
            for source in truncate_to_tokens(self.tokenizer, sources, self.max_source_tokens)
        ]

    @cached_property
    def prefix_tokens(self) -> int:
        if not self.source_prefix:
            return 0
        return len(self.tokenizer(self.source_prefix, add_special_tokens=False)["input_ids"])

    def target_token_ids(self, targets: Sequence[str]) -> list[list[int]]:
        """The token ids a model learns for each target, as in training but untruncated: the
        decoder-only continuation with its end-of-sequence token, or an encoder-decoder's labels
        (language code and end token included)."""
        if self.architecture == "causal":
            encoded = self.tokenizer([" " + t for t in targets], add_special_tokens=False)
            return [[*ids, self.tokenizer.eos_token_id] for ids in encoded["input_ids"]]
        return self.tokenizer(text_target=list(targets))["input_ids"]

    def lengths(self, pairs: Sequence[dict[str, str]], chunk: int = 256) -> dict[str, list[int]]:
        """Tokens per pair as batched here: `training` (prompt or source, plus target) and
        `generation` (the prompt or source alone), for length-bucketed batches."""
        lengths: dict[str, list[int]] = {"training": [], "generation": []}
        for start in range(0, len(pairs), chunk):
            batch = self(list(pairs[start : start + chunk]))
            inputs = batch["inputs"]
            training = inputs["attention_mask"].sum(dim=1)
            if self.architecture == "seq2seq":
                training = training + (inputs["labels"] != IGNORED_LABEL).sum(dim=1)
            lengths["training"] += training.tolist()
            lengths["generation"] += batch["generation_inputs"]["attention_mask"].sum(1).tolist()
        return lengths

    def __call__(self, pairs: list[dict[str, Any]]) -> dict[str, Any]:
        sources = [pair["source"] for pair in pairs]
        references = [pair["target"] for pair in pairs]
        if self.architecture == "causal":
            prompt_ids = self.tokenizer(self.prompts(sources))["input_ids"]
            inputs = causal_training_inputs(
                self.tokenizer, prompt_ids, references, self.max_target_tokens
            )
            generation_inputs = causal_generation_inputs(self.tokenizer, prompt_ids)
        else:
            inputs = seq2seq_inputs(
                self.tokenizer,
                [self.source_prefix + source for source in sources],
                references,
                max_source_tokens=self.max_source_tokens + self.prefix_tokens,
                max_target_tokens=self.max_target_tokens,
            )
            generation_inputs = {key: inputs[key] for key in ("input_ids", "attention_mask")}
        batch = {
            "sources": sources,
            "references": references,
            "inputs": inputs,
            "generation_inputs": generation_inputs,
        }
        if all("index" in pair for pair in pairs):
            batch["indices"] = [pair["index"] for pair in pairs]
        return batch
