"""What a domain pipeline hands the runner: data, a base model with its head, and context.

A pipeline is only a data module, a backbone builder and metrics; `PreparedPipeline` is that
composition, built before any training so bad data or a bad backbone fails fast.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning
import numpy as np
from omegaconf import DictConfig, OmegaConf
from torch import nn

from shared.inject import InjectionReport
from shared.lightning_module import PeftClassifier
from shared.low_data import subsample_indices
from shared.peft_module import EvaluationResult, PeftModule


@dataclass
class PreparedPipeline:
    """Everything the runner needs from a domain pipeline.

    Attributes:
        model: the pretrained backbone with its fresh task head, before injection.
        head_modules: names of the task head modules (always trained).
        datamodule: serves the (already subsampled) train split, validation and the test sets;
            its `test_set_names()` is the one ordered list of them ("test" first).
        train_size: training examples after subsampling (sets schedules such as AdaLoRA's).
        label_names, multilabel: the classes, for classification pipelines.
        baselines: name -> function returning test metrics of a cheap reference model, run
            beside every experiment for context.
        data_summary: split sizes, label set and subsampling facts, for metrics.json.
        make_module: builds the pipeline's `PeftModule` from (model, report, learning_rate=,
            weight_decay=); None takes `PeftClassifier`.
        write_outputs: writes the pipeline's own result files from the `EvaluationResult` into
            the run directory; None writes a classifier's confusion matrix and per-class table.
    """

    model: nn.Module
    head_modules: list[str]
    datamodule: lightning.LightningDataModule
    train_size: int
    label_names: Sequence[str] = ()
    multilabel: bool = False
    baselines: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
    make_module: Callable[..., PeftModule] | None = None
    write_outputs: Callable[[EvaluationResult, Path], None] | None = None

    def build_module(
        self,
        model: nn.Module,
        report: InjectionReport,
        *,
        learning_rate: float,
        weight_decay: float,
    ) -> PeftModule:
        """The LightningModule that trains and tests the injected `model`."""
        if self.make_module is not None:
            return self.make_module(
                model, report, learning_rate=learning_rate, weight_decay=weight_decay
            )
        return PeftClassifier(
            model,
            report,
            label_names=self.label_names,
            multilabel=self.multilabel,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
        )


def subsample_training_split(splits: Any, data: DictConfig, seed: int) -> Any:
    """The same splits with the training split cut to `data.fraction` or `data.k_shot`.

    `splits` is any domain's splits dataclass whose `train` has `labels` and `subset(indices)`.
    """
    indices = subsample_indices(
        splits.train.labels,
        fraction=data.fraction,
        k_shot=data.k_shot,
        seed=seed,
        label_names=splits.label_names,
    )
    return dataclasses.replace(splits, train=splits.train.subset(indices))


def baseline_on_splits(
    fit_and_score: Callable[..., dict[str, Any]], splits: Any, seed: int, **options: Any
) -> Callable[[], dict[str, Any]]:
    """A cheap baseline `fit_and_score(train, test, label_names=, seed=, **options)` bound to
    this run's (subsampled) training split and its test split, for `PreparedPipeline.baselines`."""
    return functools.partial(
        fit_and_score,
        splits.train,
        splits.test,
        label_names=splits.label_names,
        seed=seed,
        **options,
    )


def cross_domain_tests(
    data: DictConfig, label_names: Sequence[str], load: Callable[..., Any]
) -> dict[str, Any]:
    """The test split of every `data.cross_domain` dataset, checked to share `label_names`.

    `load(name, **options)` reads one dataset's splits (options from `data.cross_domain.<name>`).
    """
    tests = {}
    for name, options in OmegaConf.to_container(data.cross_domain, resolve=True).items():
        splits = load(name, **(options or {}))
        if list(splits.label_names) != list(label_names):
            raise ValueError(
                f"data.cross_domain.{name}: its labels {list(splits.label_names)} differ from "
                f"data.name={data.name!r}'s {list(label_names)}; a cross-domain test needs the "
                "same label set."
            )
        tests[name] = splits.test
    return tests


def data_summary(data: DictConfig, full: Any, splits: Any, **extra: Any) -> dict[str, Any]:
    """Split sizes, label set and subsampling facts of a run, for its metrics.json."""
    labels = splits.train.labels
    multilabel = labels.ndim == 2
    counts = (
        labels.sum(axis=0) if multilabel else np.bincount(labels, minlength=len(splits.label_names))
    )
    return {
        "dataset": data.name,
        "label_names": list(splits.label_names),
        "multilabel": multilabel,
        "train_size_full": len(full.train.labels),
        "train_size": len(labels),
        "val_size": len(splits.val.labels),
        "test_size": len(splits.test.labels),
        "fraction": data.fraction,
        "k_shot": data.k_shot,
        "train_label_counts": counts.tolist(),
        **extra,
    }
