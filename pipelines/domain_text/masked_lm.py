"""Masked-LM training of an injected encoder: the loss counts masked positions only.

Batches come from transformers' `DataCollatorForLanguageModeling` (masking rate, whole-word
masking, and a fixed seed for validation and test so their masks do not change between epochs).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from shared.peft_module import PeftModule, ScoredSet

IGNORED = -100  # label of positions that carry no loss


def masked_accuracy_counts(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """(correct, masked) over the positions whose label is not IGNORED."""
    masked = labels != IGNORED
    correct = (logits.argmax(dim=-1) == labels) & masked
    return int(correct.sum()), int(masked.sum())


class MaskedLanguageModule(PeftModule):
    """Batches: `input_ids`, `attention_mask` and `labels` (IGNORED except at masked tokens)."""

    def batch_size(self, batch: dict[str, Any]) -> int:
        return len(batch["input_ids"])

    def batch_outputs(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits

    def loss_and_logits(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        )
        return output.loss, output.logits

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        loss, _ = self.loss_and_logits(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=self.batch_size(batch))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_index: int) -> None:
        loss, logits = self.loss_and_logits(batch)
        correct, masked = masked_accuracy_counts(logits, batch["labels"])
        size = self.batch_size(batch)
        self.log("val_loss", loss, prog_bar=True, batch_size=size)
        self.log("val_masked_accuracy", correct / max(masked, 1), prog_bar=True, batch_size=size)

    def test_outputs(self, batch: dict[str, Any]) -> tuple[float, int, int]:
        loss, logits = self.loss_and_logits(batch)
        correct, masked = masked_accuracy_counts(logits, batch["labels"])
        return float(loss) * masked, correct, masked

    def score_test_set(self, name: str, outputs: list[tuple[float, int, int]]) -> ScoredSet:
        loss_sum = sum(o[0] for o in outputs)
        correct, masked = sum(o[1] for o in outputs), sum(o[2] for o in outputs)
        mean_loss = loss_sum / max(masked, 1)
        metrics = {
            "masked_accuracy": correct / max(masked, 1),
            "masked_loss": mean_loss,
            "perplexity": math.exp(mean_loss),
            "masked_tokens": masked,
        }
        return ScoredSet(metrics)
