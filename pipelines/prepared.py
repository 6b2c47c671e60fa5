"""What a domain pipeline hands the runner: data, a base model with its head, and context.

A pipeline is only a data module, a backbone builder and metrics; `PreparedPipeline` is that
composition, built before any training so bad data or a bad backbone fails fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning
from torch import nn


@dataclass
class PreparedPipeline:
    """Everything the runner needs from a domain pipeline.

    Attributes:
        model: the pretrained backbone with its fresh task head, before injection.
        head_modules: names of the task head modules (always trained).
        datamodule: serves the (already subsampled) train split, validation and test.
        baselines: name -> function returning test metrics of a cheap reference model, run
            beside every experiment for context.
        data_summary: split sizes, label set and subsampling facts, for metrics.json.
    """

    model: nn.Module
    head_modules: list[str]
    datamodule: lightning.LightningDataModule
    label_names: Sequence[str]
    multilabel: bool
    train_size: int
    baselines: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
