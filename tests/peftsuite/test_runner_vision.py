"""PneumoniaMNIST end to end on the pip-packaged pretrained EfficientNet-Lite0, small subset."""

import json

import pytest
import torch

from peftsuite.config import load_config
from peftsuite.runner import ADAPTER_FILE, METRICS_FILE, run_experiment
from pipelines.registry import prepare_pipeline
from shared.checkpoint import restore_adapter
from shared.metrics import classification_metrics

pytestmark = pytest.mark.slow


def test_pneumoniamnist_lora_run_end_to_end(tmp_path, data_dir):
    config = load_config(
        [
            "experiment=pneumoniamnist_efficientnet_lite0",
            "method=lora",
            f"data.data_dir={data_dir}",
            "data.fraction=0.05",
            "data.image_size=32",
            "data.batch_size=32",
            "data.eval_batch_size=128",
            "trainer=smoke",
            f"run.output_dir={tmp_path}",
        ]
    )
    directory = run_experiment(config)
    metrics = json.loads((directory / METRICS_FILE).read_text())

    assert metrics["data"]["train_size"] == pytest.approx(0.05 * 4708, abs=2)
    assert set(metrics["test"]["auroc_per_class"]) == {"normal", "pneumonia"}
    assert 0 <= metrics["test"]["auroc_macro"] <= 1
    baseline = metrics["baselines"]["pixel_logistic_regression"]
    assert set(baseline["auroc_per_class"]) == {"normal", "pneumonia"}
    skipped = metrics["injection"]["skipped_modules"]
    assert skipped and all("grouped convolution" in reason for reason in skipped.values())
    assert (directory / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert len((directory / "per_class.md").read_text().splitlines()) == 4

    prepared = prepare_pipeline(config)
    model, _ = restore_adapter(prepared.model, directory / ADAPTER_FILE)
    prepared.datamodule.setup("test")
    batches = list(prepared.datamodule.test_dataloader())[:2]  # trainer=smoke tests 2 batches
    with torch.no_grad():
        probabilities = torch.cat([torch.softmax(model.eval()(b["inputs"]), -1) for b in batches])
    labels = torch.cat([b["labels"] for b in batches])
    names = prepared.label_names
    restored = classification_metrics(probabilities, labels, multilabel=False, label_names=names)
    assert restored["auroc_macro"] == pytest.approx(metrics["test"]["auroc_macro"], abs=1e-6)
