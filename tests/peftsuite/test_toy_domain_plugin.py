"""A new domain is one registration, not an edit of the suite: the toy parity domain
(tests/toy_domain.py: a tiny random MLP, in-memory data, its own metric, config sections,
LightningModule and output file) runs end to end through the `peftsuite run` command, and its
schema rejects typos like any shipped pipeline's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toy_domain import register_parity_domain

from peftsuite.cli import main
from peftsuite.config import ConfigError, load_config


@pytest.fixture(scope="module")
def parity_domain() -> list[str]:
    return register_parity_domain()


def test_toy_domain_runs_end_to_end_through_the_run_command(parity_domain, tmp_path, capsys):
    main(
        [
            "run",
            *parity_domain,
            "method=lora",
            "method.target_modules=[hidden]",
            "parity.threshold=0.4",
            "data.bits=6",
            "data.options.examples=60",
            "trainer=smoke",
            "trainer.limit_test_batches=null",
            "trainer.enable_progress_bar=false",
            f"run.output_dir={tmp_path}",
        ]
    )
    directory = Path(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = json.loads((directory / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["agreement"] <= 1.0
    assert metrics["test"]["examples"] == 20
    assert metrics["data"] == {"dataset": "parity_bits", "bits": 6}
    assert metrics["costs"]["train_samples"] > 0  # counted through the module's batch_size
    assert metrics["injection"]["adapted_modules"] == ["hidden"]
    assert (directory / "parity.txt").read_text().strip() == f"{metrics['test']['agreement']:.4f}"
    config = load_config([*parity_domain, f"run.output_dir={tmp_path}"])
    assert (config.parity.threshold, config.data.bits) == (0.5, 8)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("parity.threshhold=0.4", "parity.threshhold"),
        ("data.bits=eight", "data.bits"),
        ("data.options.exampels=3", "data.options.exampels"),
        ("pipeline.monitor=val_auroc", "pipeline.monitor"),
    ],
)
def test_toy_domain_schema_rejects_typos_at_composition(parity_domain, override, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        load_config([*parity_domain, override])


def test_another_pipeline_does_not_get_the_toy_section(parity_domain):
    with pytest.raises(ConfigError, match="parity"):
        load_config(["parity.threshold=0.4"])
