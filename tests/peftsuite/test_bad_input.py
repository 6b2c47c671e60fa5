"""Bad input fails with a message naming the field or file, before any training starts."""

import pytest

from peftsuite.cli import main
from peftsuite.config import load_config
from peftsuite.runner import run_experiment


def run_cli(capsys, *arguments) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(arguments))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_missing_data_directory_says_where_to_get_the_data(capsys, tmp_path):
    error = run_cli(
        capsys,
        "run",
        "data=symptom2disease",
        f"data.data_dir={tmp_path / 'nowhere'}",
        f"run.output_dir={tmp_path}",
    )
    assert "Symptom2Disease.csv" in error and "data.data_dir" in error
    assert not any(tmp_path.glob("clinical_text/**/config.yaml"))  # nothing started


def test_empty_class_after_subsampling_names_the_class(tmp_path):
    config = load_config(["data.k_shot=500", f"run.output_dir={tmp_path}"])
    with pytest.raises(ValueError, match="data.k_shot"):
        run_experiment(config)


def test_unknown_backbone_names_model_name(tmp_path):
    config = load_config(["model.name=/no/such/encoder", f"run.output_dir={tmp_path}"])
    with pytest.raises(ValueError, match="model.name"):
        run_experiment(config)


def test_target_modules_matching_nothing_is_rejected_before_training(tmp_path):
    config = load_config(["method.target_modules=[no_such_layer]", f"run.output_dir={tmp_path}"])
    with pytest.raises(ValueError, match="method.target_modules"):
        run_experiment(config)
    assert not any(tmp_path.rglob("*.ckpt"))


def test_unknown_method_via_cli_is_one_clear_line(capsys):
    error = run_cli(capsys, "show-config", "method.name=lorra")
    assert "method.name" in error and "lora" in error


def test_cross_domain_tests_a_pipeline_cannot_serve_fail_when_the_config_loads():
    overrides = ["pipeline=vision", "+data.cross_domain.breastmnist={}"]
    message = r"data\.cross_domain=\['breastmnist'\]: pipeline 'vision' scores only its own test"
    with pytest.raises(ValueError, match=message):
        load_config(overrides)


def test_monitor_mode_typo_is_rejected_at_load():
    with pytest.raises(ValueError, match="pipeline.monitor_mode='maximum': must be 'max' or 'min'"):
        load_config(["pipeline.monitor_mode=maximum"])
