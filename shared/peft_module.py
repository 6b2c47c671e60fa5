"""The LightningModule base every pipeline's module shares, and the typed result of testing.

What is the same whatever the task lives here once: the injected model and its report, an
optimiser over the trainable parameters only, AdaLoRA's rank re-allocation after each step,
checkpoints that hold only the trainable tensors (and BatchNorm statistics that moved), train
mode with BatchNorm statistics frozen for PEFT methods, and the test loop over every test set the
data module serves. A pipeline's module adds its loss, its per-batch test outputs and how a test
set is scored; `evaluate` returns a `EvaluationResult` the runner reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning
import torch
from torch import nn

from shared.checkpoint import adapter_state_dict
from shared.inject import InjectionReport

IN_DOMAIN = "test"


@dataclass(frozen=True)
class ScoredSet:
    """One test set's scores, and what the pipeline keeps of its predictions for plots and files
    (a classifier's probabilities and labels, a translator's sentences)."""

    metrics: dict[str, Any]
    predictions: Any = None


@dataclass(frozen=True)
class EvaluationResult:
    """Every test set's result, in the data module's order: in domain ("test") first."""

    sets: dict[str, ScoredSet]

    @property
    def in_domain(self) -> ScoredSet:
        return self.sets[IN_DOMAIN]

    @property
    def cross_domain_metrics(self) -> dict[str, dict[str, Any]]:
        return {name: result.metrics for name, result in self.sets.items() if name != IN_DOMAIN}


def ordered_test_sets(datamodule: Any) -> list[str]:
    """The data module owns the ordered list of test sets; a bare one serves only "test"."""
    names = getattr(datamodule, "test_set_names", None)
    return list(names()) if callable(names) else [IN_DOMAIN]


class PeftModule(lightning.LightningModule):
    """Trains what the injection layer left trainable; subclasses define the task.

    Subclasses implement `batch_size`, `training_step`, `validation_step`, `test_outputs` (what
    one test batch contributes), `score_test_set` (a test set's outputs -> `ScoredSet`) and
    `batch_outputs` (the raw output for a batch).
    """

    def __init__(
        self,
        model: nn.Module,
        report: InjectionReport,
        *,
        learning_rate: float,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.report = report
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        # Checkpoints hold only trainable tensors, so loading must not demand the backbone.
        self.strict_loading = False
        self._test_outputs: dict[str, list[Any]] = {}
        self._test_result: EvaluationResult | None = None
        self._own_rates: list[tuple[list[nn.Parameter], float]] = []

    def train_at_own_rate(self, parameters: list[nn.Parameter], learning_rate: float) -> None:
        """Give `parameters` (a trainable domain adapter's) their own learning rate."""
        self._own_rates.append((list(parameters), learning_rate))

    def batch_size(self, batch: Any) -> int:
        """Examples in `batch`, for logging and cost accounting."""
        raise NotImplementedError

    def test_outputs(self, batch: Any) -> Any:
        """What one test batch contributes to its test set's score."""
        raise NotImplementedError

    def batch_outputs(self, batch: Any) -> torch.Tensor:
        """The model's raw output for a training batch (what the loss reads, e.g. logits); the
        two-step proof compares it with members switched on and off."""
        raise NotImplementedError

    def score_test_set(self, name: str, outputs: list[Any]) -> ScoredSet:
        """Scores of test set `name` from its batches' `test_outputs`."""
        raise NotImplementedError

    def evaluate(
        self, trainer: lightning.Trainer, datamodule: Any, ckpt_path: str | None = None
    ) -> EvaluationResult:
        """Test on every test set of `datamodule` (from `ckpt_path` if given)."""
        trainer.test(self, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False)
        result, self._test_result = self._test_result, None
        if result is None:
            raise RuntimeError("testing produced no result (no test batch ran)")
        return result

    def on_fit_start(self) -> None:
        # Pretrained models load in eval mode; dropout belongs to training. Lightning restores
        # these per-module modes after every validation, so they hold for the whole fit.
        self.model.train()
        if not self.report.method_config.get("train_batchnorm_statistics", True):
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_index: int) -> None:
        # AdaLoRA re-allocates its rank budget from the gradients of the step just taken.
        base_model = getattr(self.model, "base_model", None)
        update_and_allocate = getattr(base_model, "update_and_allocate", None)
        if callable(update_and_allocate):
            update_and_allocate(self.global_step)

    def on_test_epoch_start(self) -> None:
        self._test_outputs = {name: [] for name in ordered_test_sets(self.trainer.datamodule)}

    def test_step(self, batch: Any, batch_index: int, dataloader_idx: int = 0) -> None:
        name = list(self._test_outputs)[dataloader_idx]
        self._test_outputs[name].append(self.test_outputs(batch))

    def on_test_epoch_end(self) -> None:
        sets = {name: self.score_test_set(name, out) for name, out in self._test_outputs.items()}
        self._test_result = EvaluationResult(sets)
        for name, result in sets.items():
            prefix = "test_" if name == IN_DOMAIN else f"cross_{name}_"
            self.log_dict(
                {prefix + key: value for key, value in result.metrics.items() if is_scalar(value)}
            )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        own = {id(p) for parameters, _ in self._own_rates for p in parameters}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in own]
        groups = [{"params": rest}] + [
            {"params": parameters, "lr": rate} for parameters, rate in self._own_rates
        ]
        return torch.optim.AdamW(groups, lr=self.learning_rate, weight_decay=self.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"] = {
            f"model.{name}": tensor
            for name, tensor in adapter_state_dict(self.model, self.report).items()
        }


def is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
