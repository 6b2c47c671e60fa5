"""The LightningModule for translation: teacher-forced training, generation-based evaluation.

It trains whatever the injection layer left trainable and keeps checkpoints small, through
`PeftModule` like the classifier. Training minimises cross-entropy on target tokens (the collator
gives prompt and padding label -100). Validation logs `val_loss` and `val_chrf`, the chrF of
translations generated for the first `val_generation_limit` validation sentences, so
checkpointing can keep the model that translates best. Testing translates every test set
without sampling (greedy, or beam search with `num_beams` > 1: deterministic either way), with
the KV cache, decodes only the new tokens, cuts each translation at its first line break, and
scores it with sacrebleu.

One known imprecision, from peft: with prompt tuning on a decoder-only model, peft ignores
position ids in generation, so the left padding of a batch sits between the soft prompt and the
sentence; translations of padded rows can differ slightly from translating them one at a time.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from pipelines.translation.backbones import Architecture
from pipelines.translation.scoring import translation_scores
from shared.inject import InjectionReport
from shared.peft_module import PeftModule, ScoredSet


def first_line(text: str) -> str:
    """A causal LM continues past its translation; the translation is the first line."""
    return text.strip().split("\n", 1)[0].strip()


class PeftTranslator(PeftModule):
    """Translation over an injected encoder-decoder or decoder-only model.

    Batches are `TranslationCollator` dicts. Each test set's `ScoredSet` holds bleu, chrf,
    chrf_plus_plus, their sacrebleu signatures, the sentence count and generation speed, and as
    predictions every (source, reference, hypothesis), in order.
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
        self.val_translations: list[tuple[str, str]] = []

    def batch_size(self, batch: dict[str, Any]) -> int:
        return len(batch["sources"])

    def loss(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.model(**batch["inputs"]).loss

    def batch_outputs(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.model(**batch["inputs"]).logits

    def translate(self, generation_inputs: dict[str, torch.Tensor]) -> tuple[list[str], int]:
        """Translations of a batch of prompts (or sources), and how many tokens were generated.

        Generated tokens are the non-padding tokens after the prompt (decoder-only) or after the
        decoder start token (encoder-decoder), the end-of-sequence token included unless it is
        also the pad token.
        """
        options: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_beams": self.num_beams,
            "do_sample": False,
            "use_cache": True,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.architecture == "causal":
            options |= {"stop_strings": ["\n"], "tokenizer": self.tokenizer}
        output = self.model.generate(**generation_inputs, **options)
        start = generation_inputs["input_ids"].shape[1] if self.architecture == "causal" else 1
        new_tokens = output[:, start:]
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
        return {"samples": samples, "seconds": time.perf_counter() - started, "tokens": generated}

    def score_test_set(self, name: str, outputs: list[dict[str, Any]]) -> ScoredSet:
        samples = [sample for output in outputs for sample in output["samples"]]
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
        return ScoredSet(metrics, predictions=samples)
