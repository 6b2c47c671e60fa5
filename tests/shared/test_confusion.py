"""Per-class outputs of multiclass runs: confusion counts, the PNG plot and the Markdown table."""

import torch

from shared.confusion import confusion_counts, plot_confusion_matrix, write_per_class_table

NAMES = ["normal", "pneumonia", "other"]


def example():
    probabilities = torch.tensor(
        [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]]
    )
    labels = torch.tensor([0, 1, 1, 2, 2])
    return probabilities, labels


def test_counts_put_true_classes_in_rows_and_predictions_in_columns():
    counts = confusion_counts(*example())
    assert counts.tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]


def test_plot_is_written_as_png(tmp_path):
    path = tmp_path / "confusion_matrix.png"
    plot_confusion_matrix(confusion_counts(*example()), NAMES, path, title="lora on test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))


def test_table_gives_support_recall_precision_and_auroc(tmp_path):
    path = tmp_path / "per_class.md"
    auroc = {"normal": 1.0, "pneumonia": 0.75, "other": 0.5}
    write_per_class_table(confusion_counts(*example()), auroc, NAMES, path)
    rows = path.read_text().splitlines()
    assert rows[2] == "| normal | 1 | 1.000 | 0.500 | 1.000 |"
    assert rows[3] == "| pneumonia | 2 | 0.500 | 0.500 | 0.750 |"
    assert rows[4] == "| other | 2 | 0.500 | 1.000 | 0.500 |"
