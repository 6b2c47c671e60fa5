"""Class probabilities from a scikit-learn classifier fitted on whichever classes the training
split holds.

The pipelines' cheap baselines (TF-IDF for text, MFCC statistics for speech, pixels for images)
run beside every experiment, low-data ones included, where a subsample can lack classes or hold
only one. They still have to score every test class: a class missing from training gets
probability 0, and a single-class training split predicts that class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MAX_ITERATIONS = 2000


def multiclass_probabilities(
    classifier: Any,
    train_features: Any,
    train_labels: np.ndarray,
    test_features: Any,
    num_classes: int,
) -> np.ndarray:
    """(test examples, num_classes) probabilities of `classifier` fitted on the training split."""
    present = np.unique(train_labels)
    if len(present) == 1:
        probs = np.ones((test_features.shape[0], 1))
    else:
        probs = classifier.fit(train_features, train_labels).predict_proba(test_features)
    full = np.zeros((probs.shape[0], num_classes))
    full[:, present] = probs
    return full


def scaled_logistic_regression(seed: int, components: int | None = None) -> Pipeline:
    """Standardised dense features, then logistic regression: the baseline for fixed-size
    signal summaries, whose scales differ by feature.

    `components`: first project onto this many principal components (at most the training
    examples and the features), which keeps the fit to seconds on tens of thousands of wide
    examples (raw pixels) where the full-width fit takes minutes.
    """
    steps: list[Any] = [StandardScaler()]
    if components is not None:
        steps.append(PCA(n_components=components, random_state=seed))
    steps.append(LogisticRegression(max_iter=MAX_ITERATIONS, random_state=seed))
    return make_pipeline(*steps)
