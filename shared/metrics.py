"""Classification metrics reported by every pipeline, computed one way for all domains.

AUROC is the headline metric of the suite (it does not depend on a decision threshold, so it
compares methods fairly on imbalanced medical labels); accuracy and macro F1 are reported beside
it. All values come from `torchmetrics.functional`, the same code Lightning logs with, and are
returned as plain Python floats so a run's results can be written to JSON as they are.

A class that never occurs in the evaluated labels (or, multilabel, that is positive for every
example) has no defined AUROC. torchmetrics warns and scores such a class 0, which would drag the
macro average down; here it is reported as NaN and `auroc_macro` is the mean over the classes
whose AUROC is defined (NaN when none is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_f1_score,
    multilabel_accuracy,
    multilabel_auroc,
    multilabel_f1_score,
)

MULTILABEL_THRESHOLD = 0.5


def classification_metrics(
    probs: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | Sequence,
    *,
    multilabel: bool,
    label_names: Sequence[str],
) -> dict[str, float | dict[str, float]]:
    """AUROC (macro and per class), accuracy and macro F1 of predicted probabilities.

    Args:
        probs: (N, C) probabilities: softmax outputs (multiclass, rows sum to 1) or per-label
            sigmoid outputs (multilabel).
        labels: (N,) class ids (multiclass) or (N, C) 0/1 targets (multilabel).
        multilabel: whether the task is multilabel.
        label_names: one name per column of `probs`, used as keys of `auroc_per_class`.

    Returns:
        `auroc_macro`: mean one-vs-rest AUROC over the classes where it is defined; for a
        two-class task, the binary AUROC of the positive class (column 1).
        `auroc_per_class`: {name: AUROC}, NaN where undefined (see the module docstring).
        `accuracy`: multiclass: share of argmax predictions that are right. Multilabel:
        torchmetrics multilabel accuracy at threshold 0.5, i.e. the share of right
        (example, label) decisions.
        `f1_macro`: unweighted mean of per-class F1 (argmax, or threshold 0.5 for multilabel).
    """
    probs_tensor, labels_tensor = _as_tensors(probs, labels, multilabel, label_names)
    num_classes = len(label_names)
    if multilabel:
        per_class = multilabel_auroc(probs_tensor, labels_tensor, num_classes, average=None)
        defined = _label_has_both_values(labels_tensor)
        accuracy = multilabel_accuracy(
            probs_tensor,
            labels_tensor,
            num_classes,
            threshold=MULTILABEL_THRESHOLD,
            average="micro",
        )
        f1_macro = multilabel_f1_score(
            probs_tensor,
            labels_tensor,
            num_classes,
            threshold=MULTILABEL_THRESHOLD,
            average="macro",
        )
    else:
        per_class = multiclass_auroc(probs_tensor, labels_tensor, num_classes, average=None)
        one_hot = torch.nn.functional.one_hot(labels_tensor, num_classes)
        defined = _label_has_both_values(one_hot)
        accuracy = multiclass_accuracy(probs_tensor, labels_tensor, num_classes, average="micro")
        f1_macro = multiclass_f1_score(probs_tensor, labels_tensor, num_classes, average="macro")
    per_class_values = [
        float(value) if is_defined else math.nan
        for value, is_defined in zip(per_class.tolist(), defined.tolist(), strict=True)
    ]
    if num_classes == 2 and not multilabel and bool(defined.all()):
        auroc_macro = float(binary_auroc(probs_tensor[:, 1], labels_tensor))
    else:
        auroc_macro = _mean_of_defined(per_class_values)
    return {
        "auroc_macro": auroc_macro,
        "auroc_per_class": dict(zip(label_names, per_class_values, strict=True)),
        "accuracy": float(accuracy),
        "f1_macro": float(f1_macro),
    }


def _as_tensors(
    probs: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | Sequence,
    multilabel: bool,
    label_names: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor]:
    probs_tensor = torch.as_tensor(probs).detach().cpu().float()
    labels_tensor = torch.as_tensor(labels).detach().cpu().long()
    num_classes = len(label_names)
    if probs_tensor.ndim != 2 or probs_tensor.shape[1] != num_classes:
        raise ValueError(
            f"probs must have shape (N, {num_classes}) for {num_classes} label names, "
            f"got {tuple(probs_tensor.shape)}."
        )
    expected = (len(probs_tensor), num_classes) if multilabel else (len(probs_tensor),)
    if tuple(labels_tensor.shape) != expected:
        kind = "multilabel 0/1 targets" if multilabel else "class ids"
        raise ValueError(
            f"labels must be {kind} of shape {expected} to match probs "
            f"{tuple(probs_tensor.shape)}, got {tuple(labels_tensor.shape)}."
        )
    if len(probs_tensor) == 0:
        raise ValueError("probs and labels are empty: there is nothing to evaluate.")
    return probs_tensor, labels_tensor


def _label_has_both_values(targets: torch.Tensor) -> torch.Tensor:
    """(N, C) 0/1 targets -> (C,) bool: the column has a positive and a negative example."""
    positives = targets.sum(dim=0)
    return (positives > 0) & (positives < len(targets))


def _mean_of_defined(values: list[float]) -> float:
    defined = [value for value in values if not math.isnan(value)]
    return sum(defined) / len(defined) if defined else math.nan
