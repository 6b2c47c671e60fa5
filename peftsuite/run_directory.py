"""Where a run writes its results, named so that re-running a config finds its earlier run."""

from __future__ import annotations

import hashlib
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def config_fingerprint(config: DictConfig) -> str:
    """A short hash of everything that defines the experiment (not where it is written)."""
    values = OmegaConf.to_container(config, resolve=True)
    values.pop("run", None)
    values["trainer"].pop("enable_progress_bar", None)
    text = OmegaConf.to_yaml(OmegaConf.create(values), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def run_directory(config: DictConfig) -> Path:
    """`<output_dir>/<pipeline>/<dataset>/<method>-<name or config hash>`."""
    name = config.run.name or config_fingerprint(config)
    return (
        Path(config.run.output_dir)
        / config.pipeline.name
        / config.data.name
        / f"{config.method.name}-{name}"
    )
