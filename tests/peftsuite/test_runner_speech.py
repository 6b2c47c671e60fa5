"""FSDD end to end on the converted pretrained Whisper tiny.en encoder, speakers held out."""

import json

import pytest

from peftsuite.config import load_config
from peftsuite.runner import METRICS_FILE, run_experiment

pytestmark = pytest.mark.slow


def test_fsdd_lora_run_with_held_out_speakers(tmp_path, data_dir):
    config = load_config(
        [
            "experiment=fsdd_whisper_tiny_en",
            "method=lora",
            f"data.data_dir={data_dir}",
            "data.k_shot=3",
            "trainer=smoke",
            f"run.output_dir={tmp_path}",
        ]
    )
    directory = run_experiment(config)
    metrics = json.loads((directory / METRICS_FILE).read_text())

    data = metrics["data"]
    assert data["train_size"] == 30 and data["test_speakers"] == ["george", "lucas"]
    assert set(metrics["test"]["auroc_per_class"]) == {str(d) for d in range(10)}
    adapted = metrics["injection"]["adapted_modules"]
    assert adapted and all("encoder.layers" in name for name in adapted)
    assert (directory / "confusion_matrix.png").is_file()
    baseline = metrics["baselines"]["mfcc_logistic_regression"]
    assert set(baseline["auroc_per_class"]) == {str(d) for d in range(10)}


def test_fsdd_official_split_is_also_scored_on_held_out_speakers_as_cross_domain(
    tmp_path, data_dir
):
    config = load_config(
        [
            "experiment=fsdd_whisper_tiny_en",
            "method=bitfit",
            f"data.data_dir={data_dir}",
            "data.k_shot=2",
            "+data.cross_domain.fsdd={split: speakers}",
            "trainer=smoke",
            f"run.output_dir={tmp_path}",
        ]
    )
    metrics = json.loads((run_experiment(config) / METRICS_FILE).read_text())

    assert metrics["data"]["cross_domain_sizes"] == {"fsdd": 1000}  # george's and lucas's clips
    assert set(metrics["cross_domain"]) == {"fsdd"}
    assert 0 <= metrics["cross_domain"]["fsdd"]["accuracy"] <= 1


def test_synthetic_speech_run_is_scored_on_real_fsdd_and_asterisk_voices(tmp_path, data_dir):
    config = load_config(
        [
            "experiment=espeak_to_fsdd_whisper_tiny_en",
            "method=adapter_houlsby",
            f"data.data_dir={data_dir}",
            "data.k_shot=2",
            "trainer=smoke",
            f"run.output_dir={tmp_path}",
        ]
    )
    metrics = json.loads((run_experiment(config) / METRICS_FILE).read_text())

    assert metrics["data"]["dataset"] == "espeak_digits" and metrics["data"]["train_size"] == 20
    assert metrics["data"]["cross_domain_sizes"] == {"fsdd": 1000, "asterisk_digits": 10}
    assert set(metrics["cross_domain"]) == {"fsdd", "asterisk_digits"}
