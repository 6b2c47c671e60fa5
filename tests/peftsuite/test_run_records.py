"""What a run records beyond its metrics: TensorBoard or MLflow logs (offline: MLflow writes a
local file store), the energy estimate with its method, and the summary printed at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toy_domain import register_parity_domain

from peftsuite.cli import main

RUN = [
    "data.options.examples=60",
    "method=bitfit",
    "method.target_modules=[hidden]",
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
]


def toy_run(capsys, tmp_path, *overrides: str) -> tuple[Path, str]:
    main(["run", *register_parity_domain(), *RUN, f"run.output_dir={tmp_path}", *overrides])
    output = capsys.readouterr().out.strip()
    return Path(output.splitlines()[-1]), output


def test_tensorboard_logger_writes_event_files(capsys, tmp_path):
    directory, _ = toy_run(capsys, tmp_path, "run.logger=tensorboard")
    assert list((directory / "logs").rglob("events.out.tfevents.*"))


def test_mlflow_logger_writes_a_local_file_store_with_the_run_s_metrics(capsys, tmp_path):
    directory, _ = toy_run(capsys, tmp_path, "run.logger=mlflow")
    metric_files = list((tmp_path / "mlruns").rglob("metrics/*"))
    assert {path.name for path in metric_files} >= {"val_agreement", "test_agreement"}


def test_energy_is_an_estimate_that_says_how_it_was_obtained(capsys, tmp_path):
    directory, _ = toy_run(capsys, tmp_path, "run.watts_per_cpu_core=20")
    costs = json.loads((directory / "metrics.json").read_text())["costs"]
    energy = costs["energy"]
    assert costs["train_cpu_seconds"] > 0
    if energy["method"].startswith("estimate"):
        assert energy["joules"] == pytest.approx(20 * costs["train_cpu_seconds"])
        assert "20.0 W per busy core" in energy["method"]
    else:
        assert energy["method"] == "measured: RAPL package counter" and energy["joules"] > 0


def test_the_run_ends_with_a_short_summary_then_its_directory(capsys, tmp_path):
    directory, output = toy_run(capsys, tmp_path)
    assert "test (in domain)" in output and "agreement" in output and "trainable" in output
    assert output.splitlines()[-1] == str(directory)


def test_an_unknown_logger_is_refused_naming_the_field(capsys, tmp_path):
    with pytest.raises(SystemExit):
        toy_run(capsys, tmp_path, "run.logger=wandb")
    assert "run.logger='wandb': must be one of csv, tensorboard, mlflow" in capsys.readouterr().err
