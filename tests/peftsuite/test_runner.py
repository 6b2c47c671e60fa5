"""The clinical pipeline end to end on the pip-packaged pretrained MiniLM and radlabels reports.

One short run (a few batches) is shared by the tests; they check what it wrote, that its adapter
reproduces its test scores on a fresh base model, and that finished or interrupted runs are
not redone.
"""

import json

import pytest
import torch
from safetensors.torch import load_file

from peftsuite.config import load_config
from peftsuite.runner import ADAPTER_FILE, METRICS_FILE, run_experiment
from pipelines.registry import prepare_pipeline
from shared.checkpoint import restore_adapter
from shared.lightning_module import PeftClassifier
from shared.metrics import classification_metrics

pytestmark = pytest.mark.slow

SMOKE = ["trainer=smoke", "model.max_length=64", "data.eval_batch_size=32"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    overrides = [*SMOKE, "data.fraction=0.3", f"run.output_dir={tmp_path_factory.mktemp('runs')}"]
    config = load_config(overrides)
    directory = run_experiment(config)
    return config, directory, json.loads((directory / METRICS_FILE).read_text())


def test_run_writes_config_metrics_adapter_and_logs(finished_run):
    _, directory, metrics = finished_run
    peft_files = ("peft_adapter/adapter_config.json", "peft_adapter/adapter_model.safetensors")
    for name in (
        "config.yaml",
        METRICS_FILE,
        ADAPTER_FILE,
        "logs/version_0/metrics.csv",
        *peft_files,
    ):
        assert (directory / name).is_file(), name
    assert 0.0 <= metrics["test"]["auroc_macro"] <= 1.0
    assert set(metrics["test"]["auroc_per_class"]) == set(metrics["data"]["label_names"])
    baseline = metrics["baselines"]["tfidf_logistic_regression"]
    assert baseline["auroc_macro"] > 0.6  # TF-IDF reads these reports well even on 30%


def test_costs_are_measured_and_consistent(finished_run):
    _, directory, metrics = finished_run
    costs = metrics["costs"]
    stored = load_file(directory / ADAPTER_FILE)  # what the adapter file holds, read back
    assert costs["trainable_parameters"] == sum(t.numel() for t in stored.values())
    float32_bytes = 4 * costs["trainable_parameters"]
    assert float32_bytes < costs["adapter_bytes"] < float32_bytes + 64 * 1024  # + header
    assert 0 < costs["trainable_parameters"] < costs["total_parameters"]
    assert costs["train_samples"] == 4 * 16  # trainer=smoke: 4 batches of 16
    assert costs["train_samples_per_second"] > 0
    assert costs["eval_latency_ms_per_sample"] > 0
    assert costs["peak_memory_mb"] > 100 and costs["peak_memory_kind"] == "cpu_peak_rss"


def test_data_summary_reflects_the_subsample(finished_run):
    _, _, metrics = finished_run
    data = metrics["data"]
    assert data["train_size"] == pytest.approx(0.3 * data["train_size_full"], abs=2)
    assert data["fraction"] == 0.3


def test_checkpoints_hold_no_frozen_backbone_weight(finished_run):
    _, directory, metrics = finished_run
    checkpoint = torch.load(directory / "checkpoints" / "last.ckpt", weights_only=False)
    names = set(checkpoint["state_dict"])
    assert names and all("lora_" in n or "classifier" in n for n in names)
    stored = sum(t.numel() for t in checkpoint["state_dict"].values())
    assert stored == metrics["injection"]["trainable_parameters"]


def test_adapter_on_a_fresh_base_reproduces_the_test_scores(finished_run):
    config, directory, metrics = finished_run
    prepared = prepare_pipeline(config)
    model, report = restore_adapter(prepared.model, directory / ADAPTER_FILE)
    module = PeftClassifier(
        model, report, label_names=prepared.label_names, multilabel=True, learning_rate=1e-3
    ).eval()
    prepared.datamodule.setup()
    batches = list(prepared.datamodule.test_dataloader())[:2]  # trainer=smoke tests 2 batches
    with torch.no_grad():
        probabilities = torch.cat([torch.sigmoid(module(b["inputs"])) for b in batches])
    labels = torch.cat([b["labels"] for b in batches])
    scores = classification_metrics(
        probabilities, labels, multilabel=True, label_names=prepared.label_names
    )
    assert scores["auroc_macro"] == pytest.approx(metrics["test"]["auroc_macro"], abs=1e-6)


def test_a_finished_run_is_not_redone(finished_run, capsys):
    config, directory, _ = finished_run
    before = (directory / METRICS_FILE).stat().st_mtime_ns
    assert run_experiment(config) == directory
    assert (directory / METRICS_FILE).stat().st_mtime_ns == before
    assert "already finished" in capsys.readouterr().out


def test_an_interrupted_run_resumes_without_retraining(finished_run):
    config, directory, metrics = finished_run
    (directory / METRICS_FILE).unlink()  # as if the process died after the last checkpoint
    run_experiment(config)
    resumed = json.loads((directory / METRICS_FILE).read_text())
    # Nothing retrained: the costs are the first process's, carried in the checkpoint.
    for key in ("train_samples", "train_steps", "train_step_seconds"):
        assert resumed["costs"][key] == metrics["costs"][key], key
    assert (resumed["costs"]["processes"], metrics["costs"]["processes"]) == (2, 1)
    assert resumed["costs"]["resumed_from_step"] == metrics["costs"]["train_steps"]
    assert resumed["test"]["auroc_macro"] == pytest.approx(metrics["test"]["auroc_macro"])


def test_multiclass_run_writes_confusion_matrix_and_per_class_table(tmp_path, data_dir):
    config = load_config(
        [
            *SMOKE,
            "data=symptom2disease",
            f"data.data_dir={data_dir}",
            "data.k_shot=2",
            "method=bitfit",
            f"run.output_dir={tmp_path}",
        ]
    )
    directory = run_experiment(config)
    assert (directory / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    table = (directory / "per_class.md").read_text().splitlines()
    assert len(table) == 2 + 24  # header, rule, one row per disease
