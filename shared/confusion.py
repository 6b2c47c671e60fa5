"""Per-class results of a multiclass run: the confusion matrix as a plot and a Markdown table.

Macro numbers hide which classes a method gets wrong; in medical sets with a rare class that is
the part people need to see, so every multiclass run writes both next to its metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # runs write files; they never open windows
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchmetrics.functional.classification import multiclass_confusion_matrix  # noqa: E402

from shared.atomic import atomic_path, write_text_atomic  # noqa: E402


def confusion_counts(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(C, C) counts: row = true class, column = predicted (argmax) class."""
    classes = probabilities.shape[1]
    return multiclass_confusion_matrix(probabilities, labels.long(), num_classes=classes)


def plot_confusion_matrix(
    counts: torch.Tensor, label_names: Sequence[str], path: str | Path, title: str
) -> None:
    """Row-normalised heat map with the raw counts written in each cell, saved as PNG."""
    rates = counts.float() / counts.sum(dim=1, keepdim=True).clamp(min=1)
    size = max(4.0, 0.6 * len(label_names) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(label_names))
    axes.set_xticks(ticks, label_names, rotation=45, ha="right")
    axes.set_yticks(ticks, label_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for row in ticks:
        for column in ticks:
            colour = "white" if rates[row, column] > 0.5 else "black"
            axes.text(column, row, int(counts[row, column]), ha="center", va="center", color=colour)
    figure.colorbar(image, ax=axes, label="share of the true class")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)


def write_per_class_table(
    counts: torch.Tensor,
    auroc_per_class: Mapping[str, float],
    label_names: Sequence[str],
    path: str | Path,
) -> None:
    """Markdown table: support, recall (per-class accuracy), precision and AUROC per class."""
    lines = ["| class | support | recall | precision | AUROC |", "|---|---:|---:|---:|---:|"]
    for index, name in enumerate(label_names):
        support = int(counts[index].sum())
        predicted = int(counts[:, index].sum())
        correct = int(counts[index, index])
        recall = correct / support if support else float("nan")
        precision = correct / predicted if predicted else float("nan")
        auroc = auroc_per_class.get(name, float("nan"))
        lines.append(f"| {name} | {support} | {recall:.3f} | {precision:.3f} | {auroc:.3f} |")
    write_text_atomic(path, "\n".join(lines) + "\n")
