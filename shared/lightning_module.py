"""The LightningModule every classification pipeline shares.

Single- or multi-label classification over an injected model, scored with torchmetrics; what
every task shares (optimiser, checkpoints, test loop) comes from `PeftModule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchmetrics
from torch import nn

from shared.inject import InjectionReport
from shared.metrics import classification_metrics
from shared.peft_module import PeftModule, ScoredSet


def logits_of(output: Any) -> torch.Tensor:
    """transformers models return an output object with `.logits`; timm and MONAI a tensor."""
    return output.logits if hasattr(output, "logits") else output


class PeftClassifier(PeftModule):
    """Batches are dicts: `inputs` (keyword arguments for the model, or one tensor) and `labels`
    (class ids, or a 0/1 matrix when `multilabel`). Each test set's predictions are kept as
    (probabilities, labels) for the confusion matrix and per-class table."""

    def __init__(
        self,
        model: nn.Module,
        report: InjectionReport,
        *,
        label_names: Sequence[str],
        multilabel: bool,
        learning_rate: float,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(model, report, learning_rate=learning_rate, weight_decay=weight_decay)
        self.label_names = list(label_names)
        self.multilabel = multilabel
        self.val_auroc = self.make_auroc()

    def make_auroc(self) -> torchmetrics.Metric:
        classes = len(self.label_names)
        if self.multilabel:
            return torchmetrics.AUROC(task="multilabel", num_labels=classes, average="macro")
        if classes == 2:
            return torchmetrics.AUROC(task="binary")
        return torchmetrics.AUROC(task="multiclass", num_classes=classes, average="macro")

    def batch_size(self, batch: dict[str, Any]) -> int:
        return len(batch["labels"])

    def forward(self, inputs: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        output = self.model(**inputs) if isinstance(inputs, dict) else self.model(inputs)
        return logits_of(output)

    def batch_outputs(self, batch: dict[str, Any]) -> torch.Tensor:
        return self(batch["inputs"])

    def loss_and_probabilities(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["inputs"])
        labels = batch["labels"]
        if self.multilabel:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
            return loss, torch.sigmoid(logits)
        return nn.functional.cross_entropy(logits, labels), torch.softmax(logits, dim=-1)

    def auroc_input(self, probabilities: torch.Tensor) -> torch.Tensor:
        if not self.multilabel and len(self.label_names) == 2:
            return probabilities[:, 1]
        return probabilities

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        loss, _ = self.loss_and_probabilities(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=self.batch_size(batch))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_index: int) -> None:
        loss, probabilities = self.loss_and_probabilities(batch)
        self.val_auroc.update(self.auroc_input(probabilities), batch["labels"].long())
        size = self.batch_size(batch)
        self.log("val_loss", loss, prog_bar=True, batch_size=size)
        self.log("val_auroc", self.val_auroc, prog_bar=True, batch_size=size)

    def test_outputs(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        _, probabilities = self.loss_and_probabilities(batch)
        return probabilities.detach().cpu(), batch["labels"].detach().cpu()

    def score_test_set(self, name: str, outputs: list[Any]) -> ScoredSet:
        probabilities = torch.cat([p for p, _ in outputs])
        labels = torch.cat([y for _, y in outputs])
        metrics = classification_metrics(
            probabilities, labels, multilabel=self.multilabel, label_names=self.label_names
        )
        return ScoredSet(metrics, predictions=(probabilities, labels))
