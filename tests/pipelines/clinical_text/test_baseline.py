"""Tests for the TF-IDF + logistic regression baseline."""

import math

import numpy as np
import pytest

from pipelines.clinical_text.baseline import tfidf_logistic_regression_baseline
from pipelines.clinical_text.datasets import TextExamples, load_clinical_dataset

WORDS = ["fever", "rash", "cough", "chest pain"]


def _keyword_examples(class_ids: list[int]) -> TextExamples:
    """Texts whose class is given away by one keyword after the same filler words."""
    texts = [f"patient reports {WORDS[class_id]}" for class_id in class_ids]
    return TextExamples(texts, np.array(class_ids, dtype=np.int64))


def test_radlabels_baseline_is_well_above_chance():
    splits = load_clinical_dataset("radlabels", None, seed=0)
    metrics = tfidf_logistic_regression_baseline(
        splits.train, splits.test, multilabel=True, label_names=splits.label_names
    )
    assert metrics["auroc_macro"] > 0.85
    assert set(metrics["auroc_per_class"]) == set(splits.label_names)


def test_symptom2disease_baseline_is_well_above_chance(data_dir):
    splits = load_clinical_dataset("symptom2disease", data_dir, seed=0)
    metrics = tfidf_logistic_regression_baseline(
        splits.train, splits.test, multilabel=False, label_names=splits.label_names
    )
    assert metrics["auroc_macro"] > 0.95
    assert metrics["accuracy"] > 0.8


def test_multiclass_class_missing_from_train_gets_probability_zero():
    train = _keyword_examples([0, 1, 2] * 10)
    test = _keyword_examples([0, 1, 2, 3] * 5)
    metrics = tfidf_logistic_regression_baseline(train, test, multilabel=False, label_names=WORDS)
    assert metrics["auroc_per_class"]["fever"] == 1.0
    assert metrics["auroc_per_class"]["chest pain"] == 0.5, "constant zero probability"
    assert metrics["accuracy"] == pytest.approx(0.75)


def test_multilabel_label_constant_in_train_is_predicted_as_a_constant():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(40, 2))
    texts = [
        " ".join(w for w, on in zip(["fever", "rash"], row, strict=True) if on) + " patient"
        for row in labels
    ]
    train_labels = np.column_stack([labels[:30, 0], np.zeros(30, dtype=np.int64)])
    train = TextExamples(texts[:30], train_labels)
    test = TextExamples(texts[30:], labels[30:])
    with pytest.warns(UserWarning, match="Label not 1 is present in all training examples"):
        metrics = tfidf_logistic_regression_baseline(
            train, test, multilabel=True, label_names=["fever", "rash"]
        )
    assert metrics["auroc_per_class"]["fever"] == 1.0
    assert metrics["auroc_per_class"]["rash"] == 0.5
    assert not math.isnan(metrics["auroc_macro"])


def test_tiny_corpus_without_repeated_terms_still_fits():
    train = TextExamples(["fever alpha", "rash beta"], np.array([0, 1]))
    test = TextExamples(["fever gamma", "rash delta"], np.array([0, 1]))
    metrics = tfidf_logistic_regression_baseline(
        train, test, multilabel=False, label_names=["fever", "rash"]
    )
    assert metrics["auroc_macro"] == 1.0
