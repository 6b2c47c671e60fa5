"""The clinical pipeline's preparation: subsampled data and a backbone, before any training."""

import pytest

from peftsuite.config import load_config
from pipelines.clinical_text.pipeline import prepare_clinical_text


@pytest.mark.slow
def test_k_shot_symptom2disease_trains_on_k_per_class_and_tests_on_the_full_split(data_dir):
    config = load_config(["data=symptom2disease", f"data.data_dir={data_dir}", "data.k_shot=4"])
    prepared = prepare_clinical_text(config)
    summary = prepared.data_summary
    assert summary["train_label_counts"] == [4] * 24
    assert prepared.train_size == 96
    assert summary["test_size"] > 96 and not prepared.multilabel
    assert prepared.model.classifier.out_features == 24


@pytest.mark.slow
def test_baseline_sees_the_same_subsample_as_the_model():
    config = load_config(["data.fraction=0.2"])
    prepared = prepare_clinical_text(config)
    metrics = prepared.baselines["tfidf_logistic_regression"]()
    assert prepared.train_size == pytest.approx(140, abs=2)
    assert set(metrics["auroc_per_class"]) == set(prepared.label_names)
