"""The cheap baselines' class probabilities: every class scored, whatever training holds."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shared.linear_baseline import multiclass_probabilities, scaled_logistic_regression


def one_hot_features(labels: list[int], width: int = 4) -> np.ndarray:
    return np.eye(width)[labels] * 3.0


def test_columns_follow_class_ids_when_a_class_is_missing_from_training():
    train_labels = np.array([0, 2, 3] * 10)
    test_labels = [0, 1, 2, 3]
    probs = multiclass_probabilities(
        LogisticRegression(),
        one_hot_features(list(train_labels)),
        train_labels,
        one_hot_features(test_labels),
        num_classes=4,
    )
    assert probs.shape == (4, 4)
    assert np.all(probs[:, 1] == 0), "class 1 never trained: probability 0"
    assert list(probs.argmax(axis=1)[[0, 2, 3]]) == [0, 2, 3]
    assert probs.sum(axis=1) == pytest.approx(np.ones(4))


def test_a_single_class_training_split_predicts_that_class():
    train_labels = np.array([2, 2, 2])
    probs = multiclass_probabilities(
        LogisticRegression(), np.zeros((3, 4)), train_labels, np.zeros((5, 4)), num_classes=3
    )
    assert probs.tolist() == [[0.0, 0.0, 1.0]] * 5


def test_scaling_lets_a_small_scale_feature_separate_the_classes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    features = np.column_stack([labels * 1e-4 + rng.normal(0, 1e-5, 200), rng.normal(0, 1e3, 200)])
    probs = multiclass_probabilities(
        scaled_logistic_regression(seed=0), features[:150], labels[:150], features[150:], 2
    )
    assert (probs.argmax(axis=1) == labels[150:]).mean() == 1.0
