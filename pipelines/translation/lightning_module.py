"""The LightningModule for translation: teacher-forced training, generation-based evaluation.

It trains whatever the injection layer left trainable and keeps checkpoints small, through
`PeftModule` like the classifier. Training minimises cross-entropy on target tokens (the collator
gives prompt and padding label -100), computing logits only where a target token is predicted
(`target_logits.py`), over the trimmed output vocabulary when the model has one
(`vocabulary.py`). Validation logs `val_loss` and `val_chrf`, the chrF of translations generated
for the first `val_generation_limit` validation sentences, so checkpointing can keep the model
that translates best. Testing translates every test set without sampling (greedy, or beam search
with `num_beams` > 1: deterministic either way), with the KV cache, optionally forbidding
repeated n-grams or penalising repeated tokens of the translation (`generation.py`), decodes only
the new tokens, cuts each translation at its first line break, puts the translations back in the
test set's order (batches may be sorted by length), and scores them with sacrebleu.

One known imprecision, from peft: with prompt tuning on a decoder-only model, peft ignores
position ids in generation, so the left padding of a batch sits between the soft prompt and the
sentence; translations of padded rows can differ slightly from translating them one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from pipelines.translation.backbones import Architecture
from pipelines.translation.generation import translation_processors
from pipelines.translation.scoring import translation_scores
from pipelines.translation.target_logits import target_only_loss
from pipelines.translation.vocabulary import trimmed_layer
from shared.inject import InjectionReport
from shared.peft_module import PeftModule, ScoredSet


def first_line(text: str) -> str:
    """A causal LM continues past its translation; the translation is the first line."""
    return text.strip().split("\n", 1)[0].strip()


class PeftTranslator(PeftModule):
    """Translation over an injected encoder-decoder or decoder-only model.

    Batches are `TranslationCollator` dicts. Each test set's `ScoredSet` holds bleu, chrf,
    chrf_plus_plus, their sacrebleu signatures, the sentence count and generation speed (and,
    given `vocabulary_coverage`, the share of its reference tokens the trimmed output vocabulary
    can produce), and as predictions every (source, reference, hypothesis), in order.

    Args:
        no_repeat_ngram_size: forbid repeating any n-gram of this many tokens within a
            translation (0: off).
        repetition_penalty: divide the scores of tokens already in the translation by this
            (1.0: off; transformers' CTRL-style penalty).
        forced_bos_token_id: the first token to generate (the target language code of mBART or
            NLLB); None leaves the model's generation config as it is.
        vocabulary_coverage: test set name ("test" in domain) -> coverage, for the metrics.
    """

    def __init__(
        self,
        model: nn.Module,
        report: InjectionReport,
        *,
        tokenizer: PreTrainedTokenizerBase,
        architecture: Architecture,
        learning_rate: float,
        weight_decay: float = 0.0,
        max_new_tokens: int = 128,
        num_beams: int = 1,
        val_generation_limit: int = 32,
        no_repeat_ngram_size: int = 0,
        repetition_penalty: float = 1.0,
        forced_bos_token_id: int | None = None,
        vocabulary_coverage: Mapping[str, float] | None = None,
    ) -> None:
        if val_generation_limit < 1:
            raise ValueError(
                f"val_generation_limit must be at least 1 (val_chrf needs translations), got "
                f"{val_generation_limit}"
            )
        super().__init__(model, report, learning_rate=learning_rate, weight_decay=weight_decay)
        self.tokenizer = tokenizer
        self.architecture = architecture
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.val_generation_limit = val_generation_limit
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.repetition_penalty = repetition_penalty
        self.forced_bos_token_id = forced_bos_token_id
        self.vocabulary_coverage = dict(vocabulary_coverage or {})
        self.val_translations: list[tuple[str, str]] = []

    def batch_size(self, batch: dict[str, Any]) -> int:
        return len(batch["sources"])

    def loss(self, batch: dict[str, Any]) -> torch.Tensor:
        return target_only_loss(self.model, batch["inputs"], self.architecture)

    def batch_outputs(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.model(**batch["inputs"]).logits

    def generation_start(self, generation_inputs: dict[str, torch.Tensor]) -> int:
        """Where the generated tokens begin in `generate`'s output: after the (left-padded)
        prompt of a decoder-only model, after the decoder start token of an encoder-decoder."""
        return generation_inputs["input_ids"].shape[1] if self.architecture == "causal" else 1

    def generate(self, generation_inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """`model.generate` with this module's settings; the output ids, prompt included."""
        options: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_beams": self.num_beams,
            "do_sample": False,
            "use_cache": True,
            "pad_token_id": self.tokenizer.pad_token_id,
            "logits_processor": translation_processors(
                start=self.generation_start(generation_inputs),
                no_repeat_ngram_size=self.no_repeat_ngram_size,
                repetition_penalty=self.repetition_penalty,
                trimmed=trimmed_layer(self.model),
            ),
        }
        if self.forced_bos_token_id is not None:
            options["forced_bos_token_id"] = self.forced_bos_token_id
        if self.architecture == "causal":
            options |= {"stop_strings": ["\n"], "tokenizer": self.tokenizer}
        return self.model.generate(**generation_inputs, **options)

    def translate(self, generation_inputs: dict[str, torch.Tensor]) -> tuple[list[str], int]:
        """Translations of a batch of prompts (or sources), and how many tokens were generated.

        Generated tokens are the non-padding tokens after the prompt (decoder-only) or after the
        decoder start token (encoder-decoder), the end-of-sequence token included unless it is
        also the pad token.
        """
        output = self.generate(generation_inputs)
        new_tokens = output[:, self.generation_start(generation_inputs) :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        generated = int((new_tokens != self.tokenizer.pad_token_id).sum())
        return [first_line(text) for text in texts], generated

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=self.batch_size(batch))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.val_translations.clear()

    def validation_step(self, batch: dict[str, Any], batch_index: int) -> None:
        self.log("val_loss", self.loss(batch), prog_bar=True, batch_size=self.batch_size(batch))
        wanted = self.val_generation_limit - len(self.val_translations)
        if wanted > 0:
            inputs = {key: value[:wanted] for key, value in batch["generation_inputs"].items()}
            hypotheses, _ = self.translate(inputs)
            self.val_translations.extend(zip(hypotheses, batch["references"][:wanted], strict=True))

    def on_validation_epoch_end(self) -> None:
        hypotheses, references = zip(*self.val_translations, strict=True)
        self.log("val_chrf", translation_scores(hypotheses, references)["chrf"], prog_bar=True)

    def test_outputs(self, batch: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        hypotheses, generated = self.translate(batch["generation_inputs"])
        samples = [
            {"source": source, "reference": reference, "hypothesis": hypothesis}
            for source, reference, hypothesis in zip(
                batch["sources"], batch["references"], hypotheses, strict=True
            )
        ]
        indices = batch.get("indices", [None] * len(samples))
        return {
            "samples": samples,
            "indices": indices,
            "seconds": time.perf_counter() - started,
            "tokens": generated,
        }

    def score_test_set(self, name: str, outputs: list[dict[str, Any]]) -> ScoredSet:
        """Scores of one test set, its translations back in the set's order."""
        indexed = [
            (index, sample)
            for output in outputs
            for index, sample in zip(output["indices"], output["samples"], strict=True)
        ]
        if all(index is not None for index, _ in indexed):
            indexed.sort(key=lambda item: item[0])
        samples = [sample for _, sample in indexed]
        seconds = sum(output["seconds"] for output in outputs)
        scores = translation_scores(
            [s["hypothesis"] for s in samples], [s["reference"] for s in samples]
        )
        metrics = {
            **scores,
            "test_set": name,
            "sentences": len(samples),
            "generation_seconds": seconds,
            "generated_tokens_per_second": sum(o["tokens"] for o in outputs) / max(seconds, 1e-9),
        }
        if name in self.vocabulary_coverage:
            metrics["vocabulary_coverage"] = self.vocabulary_coverage[name]
        return ScoredSet(metrics, predictions=samples)
