"""Every bad value is refused by `peftsuite run` in one line naming its field, before any data or
model loads; valid Lightning options pass through, and `show-config` runs the same checks."""

from __future__ import annotations

import subprocess
import sys

import pytest

import peftsuite.runner
from peftsuite.cli import main
from peftsuite.config import load_config

BAD_VALUES = [
    ("method.r=abc", "method.r"),
    ("method.alpha=abc", "method.alpha"),
    ("method.alpha=1.5", "method.alpha"),
    ("method.learning_rate=abc", "method.learning_rate"),
    ("method.learning_rate=0", "method.learning_rate"),
    ("method.target_modules=[]", "method.target_modules"),
    ("+trainer.max_epoch=1", "trainer.max_epoch"),
    ("trainer.max_epoch=1", "trainer.max_epoch"),
    ("trainer.max_epochs=-1", "trainer.max_epochs"),
    ("trainer.accelerator=tpu", "trainer"),
    ("trainer.devices=0", "trainer"),
    ("trainer.limit_train_batches=-1", "trainer.limit_train_batches"),
    ("trainer.strategy=nope", "trainer"),
    ("pipeline.monitor=val_foo", "pipeline.monitor"),
    ("pipeline.monitor_mode=maximum", "pipeline.monitor_mode"),
    ("+metod=lora", "metod"),
    ("+data.foo=1", "data.foo"),
    ("data.options.min_positive=3", "data.options.min_positive"),
    ("optim.lr=0", "optim.lr"),
    ("optim.weight_decay=-0.1", "optim.weight_decay"),
    ("model.max_length=0", "model.max_length"),
    ("data.fraction=1.5", "data.fraction"),
    ("data.k_shot=0", "data.k_shot"),
    ("data.batch_size=0", "data.batch_size"),
    ("seed=-1", "seed"),
    ("method=lorra", "method/lorra"),
]


@pytest.fixture
def nothing_loads(monkeypatch):
    """Fail the test if the run gets as far as preparing data or a model."""

    def prepare_pipeline(config):
        raise AssertionError("data and model were loaded before the bad value was refused")

    monkeypatch.setattr(peftsuite.runner, "prepare_pipeline", prepare_pipeline)


def refusal(capsys, *overrides: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *overrides])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Traceback" not in error, error
    assert error.startswith("peftsuite: error: ")
    return error


@pytest.mark.parametrize(("override", "field"), BAD_VALUES)
def test_a_bad_value_is_one_line_naming_its_field_before_anything_loads(
    override, field, nothing_loads, capsys, tmp_path
):
    assert field in refusal(capsys, override, f"run.output_dir={tmp_path}")


def test_an_unwritable_output_folder_is_refused_first(nothing_loads, capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    assert "run.output_dir" in refusal(capsys, f"run.output_dir={a_file / 'runs'}")


def test_an_unwritable_cache_is_refused_first(nothing_loads, capsys, tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    monkeypatch.setenv("PEFTSUITE_CACHE_DIR", str(a_file / "cache"))
    assert "PEFTSUITE_CACHE_DIR" in refusal(capsys, f"run.output_dir={tmp_path}")


def test_show_config_runs_the_same_checks(capsys):
    with pytest.raises(SystemExit):
        main(["show-config", "optim.lr=0"])
    assert "optim.lr" in capsys.readouterr().err


def test_valid_lightning_options_pass_through_to_the_trainer(tmp_path):
    config = load_config(["trainer.num_sanity_val_steps=0", "trainer.accumulate_grad_batches=2"])
    assert (config.trainer.num_sanity_val_steps, config.trainer.accumulate_grad_batches) == (0, 2)


def test_help_answers_without_importing_torch():
    script = "\n".join(
        [
            "import sys",
            "from peftsuite.cli import main",
            "try: main(['--help'])",
            "except SystemExit: pass",
            "assert 'torch' not in sys.modules, 'torch imported'",
        ]
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "show-config" in completed.stdout
