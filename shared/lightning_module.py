"""The LightningModule every classification pipeline shares.

It trains whatever the injection layer left trainable (and nothing else), scores with
torchmetrics, and keeps checkpoints small: the frozen backbone is never written into them, only
the trainable tensors and BatchNorm statistics that training moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning
import torch
import torchmetrics
from torch import nn

from shared.inject import InjectionReport
from shared.metrics import classification_metrics
from shared.peft_training import (
    adamw_over_trainable,
    checkpoint_state_dict,
    update_rank_budget,
)


def logits_of(output: Any) -> torch.Tensor:
    """transformers models return an output object with `.logits`; timm and MONAI a tensor."""
    return output.logits if hasattr(output, "logits") else output


class PeftClassifier(lightning.LightningModule):
    """Single- or multi-label classification over an injected model.

    Batches are dicts: `inputs` (keyword arguments for the model, or one tensor) and `labels`
    (class ids, or a 0/1 matrix when `multilabel`).
    """

    def __init__(
        self,
        model: nn.Module,
        report: InjectionReport,
        *,
        label_names: Sequence[str],
        multilabel: bool,
        learning_rate: float,
        weight_decay: float = 0.0,
        test_set_names: Sequence[str] = ("test",),
    ) -> None:
        super().__init__()
        self.model = model
        self.report = report
        self.label_names = list(label_names)
        self.multilabel = multilabel
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        # Checkpoints hold only trainable tensors, so loading must not demand the backbone.
        self.strict_loading = False
        self.val_auroc = self.make_auroc()
        # "test" (in domain) first, then cross-domain test sets, one per test dataloader.
        self.test_set_names = list(test_set_names)
        self.test_outputs: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        self.test_probabilities = torch.empty(0)
        self.test_labels = torch.empty(0)
        self.test_metrics: dict[str, Any] = {}
        self.cross_domain_metrics: dict[str, dict[str, Any]] = {}

    def make_auroc(self) -> torchmetrics.Metric:
        classes = len(self.label_names)
        if self.multilabel:
            return torchmetrics.AUROC(task="multilabel", num_labels=classes, average="macro")
        if classes == 2:
            return torchmetrics.AUROC(task="binary")
        return torchmetrics.AUROC(task="multiclass", num_classes=classes, average="macro")

    def forward(self, inputs: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        output = self.model(**inputs) if isinstance(inputs, dict) else self.model(inputs)
        return logits_of(output)

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

    def on_fit_start(self) -> None:
        # Pretrained models load in eval mode; dropout belongs to training. Lightning restores
        # these per-module modes after every validation, so they hold for the whole fit.
        self.model.train()
        if not self.report.method_config.get("train_batchnorm_statistics", True):
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        loss, _ = self.loss_and_probabilities(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_index: int) -> None:
        update_rank_budget(self.model, self.global_step)

    def validation_step(self, batch: dict[str, Any], batch_index: int) -> None:
        loss, probabilities = self.loss_and_probabilities(batch)
        self.val_auroc.update(self.auroc_input(probabilities), batch["labels"].long())
        size = len(batch["labels"])
        self.log("val_loss", loss, prog_bar=True, batch_size=size)
        self.log("val_auroc", self.val_auroc, prog_bar=True, batch_size=size)

    def test_step(self, batch: dict[str, Any], batch_index: int, dataloader_idx: int = 0) -> None:
        _, probabilities = self.loss_and_probabilities(batch)
        self.test_outputs[dataloader_idx].append(
            (probabilities.detach().cpu(), batch["labels"].detach().cpu())
        )

    def on_test_epoch_start(self) -> None:
        self.test_outputs = [[] for _ in self.test_set_names]

    def on_test_epoch_end(self) -> None:
        for name, outputs in zip(self.test_set_names, self.test_outputs, strict=True):
            probabilities = torch.cat([p for p, _ in outputs])
            labels = torch.cat([y for _, y in outputs])
            metrics = classification_metrics(
                probabilities, labels, multilabel=self.multilabel, label_names=self.label_names
            )
            if name == self.test_set_names[0]:
                self.test_probabilities, self.test_labels = probabilities, labels
                self.test_metrics = metrics
                prefix = "test_"
            else:
                self.cross_domain_metrics[name] = metrics
                prefix = f"cross_{name}_"
            self.log_dict({prefix + k: v for k, v in metrics.items() if isinstance(v, float)})

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return adamw_over_trainable(self.model, self.learning_rate, self.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"] = checkpoint_state_dict(self.model, self.report)
