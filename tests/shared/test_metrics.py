"""Tests for shared.metrics: values agree with scikit-learn, undefined AUROC is NaN."""

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from shared.metrics import classification_metrics

NAMES = ["cardiology", "neurology", "oncology", "urology"]


def _random_multiclass(num_examples: int = 300, num_classes: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(num_examples, num_classes))
    labels = rng.integers(0, num_classes, size=num_examples)
    logits[np.arange(num_examples), labels] += 1.0  # informative but imperfect
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs.astype(np.float32), labels


def _random_multilabel(num_examples: int = 300, num_labels: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((num_examples, num_labels)) < 0.3).astype(np.int64)
    probs = np.clip(0.3 * labels + rng.random((num_examples, num_labels)) * 0.7, 0, 1)
    return probs.astype(np.float32), labels


def test_multiclass_matches_sklearn():
    probs, labels = _random_multiclass()
    metrics = classification_metrics(probs, labels, multilabel=False, label_names=NAMES)
    expected_macro = roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    assert metrics["auroc_macro"] == pytest.approx(expected_macro, abs=1e-5)
    for class_id, name in enumerate(NAMES):
        expected = roc_auc_score(labels == class_id, probs[:, class_id])
        assert metrics["auroc_per_class"][name] == pytest.approx(expected, abs=1e-5)
    predictions = probs.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    assert metrics["f1_macro"] == pytest.approx(f1_score(labels, predictions, average="macro"))


def test_multilabel_matches_sklearn():
    probs, labels = _random_multilabel()
    metrics = classification_metrics(probs, labels, multilabel=True, label_names=NAMES)
    assert metrics["auroc_macro"] == pytest.approx(
        roc_auc_score(labels, probs, average="macro"), abs=1e-5
    )
    for column, name in enumerate(NAMES):
        expected = roc_auc_score(labels[:, column], probs[:, column])
        assert metrics["auroc_per_class"][name] == pytest.approx(expected, abs=1e-5)
    predictions = (probs >= 0.5).astype(np.int64)
    assert metrics["accuracy"] == pytest.approx((predictions == labels).mean())
    assert metrics["f1_macro"] == pytest.approx(
        f1_score(labels, predictions, average="macro", zero_division=0)
    )


def test_binary_task_reports_the_binary_auroc():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, size=200)
    positive = np.clip(0.35 * labels + rng.random(200) * 0.65, 0, 1)
    probs = np.stack([1 - positive, positive], axis=1)
    metrics = classification_metrics(
        probs, labels, multilabel=False, label_names=["benign", "malignant"]
    )
    assert metrics["auroc_macro"] == pytest.approx(roc_auc_score(labels, positive), abs=1e-5)


def test_perfect_predictions_score_one():
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    probs = np.eye(4)[labels]
    metrics = classification_metrics(probs, labels, multilabel=False, label_names=NAMES)
    assert metrics["auroc_macro"] == 1.0
    assert set(metrics["auroc_per_class"].values()) == {1.0}
    assert metrics["accuracy"] == 1.0
    assert metrics["f1_macro"] == 1.0
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    metrics = classification_metrics(
        targets.astype(float), targets, multilabel=True, label_names=["edema", "effusion"]
    )
    assert (metrics["auroc_macro"], metrics["accuracy"], metrics["f1_macro"]) == (1.0, 1.0, 1.0)


def test_absent_class_has_nan_auroc_and_is_left_out_of_the_macro():
    probs, labels = _random_multiclass()
    labels[labels == 3] = 0  # "urology" never occurs
    with pytest.warns(UserWarning):
        metrics = classification_metrics(probs, labels, multilabel=False, label_names=NAMES)
    assert math.isnan(metrics["auroc_per_class"]["urology"])
    present = [roc_auc_score(labels == class_id, probs[:, class_id]) for class_id in range(3)]
    assert metrics["auroc_macro"] == pytest.approx(np.mean(present), abs=1e-5)


def test_multilabel_label_positive_everywhere_or_nowhere_has_nan_auroc():
    probs, labels = _random_multilabel()
    labels[:, 1] = 0
    labels[:, 2] = 1
    with pytest.warns(UserWarning):
        metrics = classification_metrics(probs, labels, multilabel=True, label_names=NAMES)
    per_class = metrics["auroc_per_class"]
    assert math.isnan(per_class["neurology"]) and math.isnan(per_class["oncology"])
    assert metrics["auroc_macro"] == pytest.approx(
        (per_class["cardiology"] + per_class["urology"]) / 2
    )


def test_accepts_tensors_and_returns_json_serialisable_floats():
    probs, labels = _random_multiclass()
    from_numpy = classification_metrics(probs, labels, multilabel=False, label_names=NAMES)
    from_torch = classification_metrics(
        torch.from_numpy(probs), torch.from_numpy(labels), multilabel=False, label_names=NAMES
    )
    assert from_torch == from_numpy
    assert json.loads(json.dumps(from_numpy)) == from_numpy
    assert all(type(value) is float for value in from_numpy["auroc_per_class"].values())
    assert type(from_numpy["auroc_macro"]) is float


def test_shape_mismatch_names_the_expected_shape():
    probs, labels = _random_multiclass(num_classes=4)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        classification_metrics(probs, labels, multilabel=False, label_names=NAMES[:3])
    with pytest.raises(ValueError, match=r"multilabel 0/1 targets of shape \(300, 4\)"):
        classification_metrics(probs, labels, multilabel=True, label_names=NAMES)
