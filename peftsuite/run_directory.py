"""Where a run writes its results, named so that re-running a config finds its earlier run."""

from __future__ import annotations

import hashlib
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from shared.stacking import adapter_file, sha256_of

# Where and how a run executes, not what it is: the same experiment on another machine, with
# more loader workers or a larger evaluation batch, is the same run.
NOT_THE_EXPERIMENT = {
    "data": ("data_dir", "num_workers", "eval_batch_size"),
    "trainer": ("accelerator", "devices", "enable_progress_bar"),
}


def config_fingerprint(config: DictConfig) -> str:
    """A short hash of everything that defines the experiment (not where or how it ran).

    Domain adapters count by content (sha256), not by the path they happen to be stored at.
    """
    values = OmegaConf.to_container(config, resolve=True)
    values.pop("run", None)
    for section, keys in NOT_THE_EXPERIMENT.items():
        for key in keys:
            values[section].pop(key, None)
    stack = values.get("stack", {})
    if not stack.get("train_domain"):  # runs from before these keys existed keep their folders
        stack.pop("train_domain", None)
        stack.pop("domain_lr", None)
    if stack.get("domain_adapters"):
        stack["domain_adapters"] = [
            sha256_of(adapter_file(path)) for path in stack["domain_adapters"]
        ]
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
