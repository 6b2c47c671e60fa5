"""Generation controls that look only at the translation being generated.

transformers' `no_repeat_ngram_size` and `repetition_penalty` look at every token of the
sequence, and a decoder-only model's sequence starts with its prompt: they would forbid
repeating any 3 words of the source sentence (names, numbers: what a translation must copy) and
penalise the words of the instruction. Here each is applied to the generated tokens only, the
columns after `start` (the prompt length for decoder-only models, the decoder start token for
encoder-decoders), which for an encoder-decoder is what transformers does anyway.
"""

from __future__ import annotations

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from pipelines.translation.vocabulary import KeptTokensOnly, TrimmedOutputLayer


class GeneratedTokensOnly(LogitsProcessor):
    """Runs `processor` on the generated part of the sequence, `input_ids[:, start:]`."""

    def __init__(self, processor: LogitsProcessor, start: int) -> None:
        self.processor = processor
        self.start = start

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return self.processor(input_ids[:, self.start :], scores)


def translation_processors(
    *,
    start: int,
    no_repeat_ngram_size: int = 0,
    repetition_penalty: float = 1.0,
    trimmed: TrimmedOutputLayer | None = None,
) -> LogitsProcessorList:
    """The logits processors of one `generate` call (the trimmed-vocabulary mask last)."""
    processors = LogitsProcessorList()
    if repetition_penalty != 1.0:
        penalty = RepetitionPenaltyLogitsProcessor(repetition_penalty)
        processors.append(GeneratedTokensOnly(penalty, start))
    if no_repeat_ngram_size > 0:
        processors.append(
            GeneratedTokensOnly(NoRepeatNGramLogitsProcessor(no_repeat_ngram_size), start)
        )
    if trimmed is not None:
        processors.append(KeptTokensOnly(trimmed))
    return processors
