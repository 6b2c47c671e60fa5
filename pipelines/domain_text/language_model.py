"""Language-model training of an injected model on domain text: masked-LM for encoders (the
loss counts masked positions only) and causal-LM for decoders (every next token).

Batches come from transformers' `DataCollatorForLanguageModeling`: masked (masking rate,
whole-word masking, a fixed seed for validation and test so their masks do not change between
epochs), or causal (labels are the input ids, padding ignored; the model shifts them itself).
Both report the accuracy on the tokens they predict (`token_accuracy`) and the perplexity.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from shared.peft_module import PeftModule, ScoredSet

IGNORED = -100  # label of positions that carry no loss


def token_accuracy_counts(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """(correct, predicted) over the positions whose label is not IGNORED."""
    predicted = labels != IGNORED
    correct = (logits.argmax(dim=-1) == labels) & predicted
    return int(correct.sum()), int(predicted.sum())


class MaskedLanguageModule(PeftModule):
    """Batches: `input_ids`, `attention_mask` and `labels` (IGNORED except at masked tokens)."""

    def aligned(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits and the labels they predict, position by position."""
        return logits, labels

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
        correct, predicted = token_accuracy_counts(*self.aligned(logits, batch["labels"]))
        size = self.batch_size(batch)
        self.log("val_loss", loss, prog_bar=True, batch_size=size)
        accuracy = correct / max(predicted, 1)
        self.log("val_token_accuracy", accuracy, prog_bar=True, batch_size=size)

    def test_outputs(self, batch: dict[str, Any]) -> tuple[float, int, int]:
        loss, logits = self.loss_and_logits(batch)
        correct, predicted = token_accuracy_counts(*self.aligned(logits, batch["labels"]))
        return float(loss) * predicted, correct, predicted

    def score_test_set(self, name: str, outputs: list[tuple[float, int, int]]) -> ScoredSet:
        loss_sum = sum(o[0] for o in outputs)
        correct, predicted = sum(o[1] for o in outputs), sum(o[2] for o in outputs)
        mean_loss = loss_sum / max(predicted, 1)
        metrics = {
            "token_accuracy": correct / max(predicted, 1),
            "token_loss": mean_loss,
            "perplexity": math.exp(mean_loss),
            "predicted_tokens": predicted,
        }
        return ScoredSet(metrics)


class CausalLanguageModule(MaskedLanguageModule):
    """Next-token training: `labels` are the input ids (IGNORED at padding); position t's logits
    predict label t + 1, as the model's own loss shifts them."""

    def aligned(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return logits[:, :-1], labels[:, 1:]
