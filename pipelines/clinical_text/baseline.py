"""TF-IDF + logistic regression: the non-neural baseline reported beside every text run.

A PEFT result on clinical text means little without a cheap reference point: bag-of-n-grams with a
linear classifier is strong on keyword-driven tasks (Symptom2Disease, rule-labelled radlabels)
and trains in seconds on a CPU. It sees the same training examples as the run (after low-data
subsampling) and is scored on the same test split with the same metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from pipelines.clinical_text.datasets import TextExamples
from shared.linear_baseline import MAX_ITERATIONS, multiclass_probabilities
from shared.metrics import classification_metrics


def tfidf_logistic_regression_baseline(
    train: TextExamples,
    test: TextExamples,
    *,
    multilabel: bool,
    label_names: Sequence[str],
    seed: int = 0,
) -> dict[str, float | dict[str, float]]:
    """Fit TF-IDF (word 1-2 grams, sublinear tf) + logistic regression on `train`, score `test`.

    Multilabel tasks fit one binary classifier per label (one-vs-rest); a label with a single
    value in `train` gets that value as a constant prediction. A class missing from a multiclass
    `train` gets probability 0.

    Returns:
        `shared.metrics.classification_metrics` of the test predictions.
    """
    vectorizer = _fit_vectorizer(train.texts)
    train_features = vectorizer.transform(train.texts)
    test_features = vectorizer.transform(test.texts)
    classifier = LogisticRegression(max_iter=MAX_ITERATIONS, random_state=seed)
    if multilabel:
        # OneVsRestClassifier predicts a constant for a label that is all 0 or all 1 in train.
        model = OneVsRestClassifier(classifier).fit(train_features, train.labels)
        probs = model.predict_proba(test_features)
    else:
        probs = multiclass_probabilities(
            classifier, train_features, train.labels, test_features, len(label_names)
        )
    return classification_metrics(
        probs, test.labels, multilabel=multilabel, label_names=label_names
    )


def _fit_vectorizer(texts: list[str]) -> TfidfVectorizer:
    """Ignore n-grams seen in a single document, unless that leaves no vocabulary (tiny corpora)."""
    try:
        return _vectorizer(min_df=2).fit(texts)
    except ValueError:
        return _vectorizer(min_df=1).fit(texts)


def _vectorizer(min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
