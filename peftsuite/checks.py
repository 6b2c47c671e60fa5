"""What a composed config's types alone cannot say, checked before any data or model loads.

Every section's dataclass checks its own ranges when the config is turned into objects; here
are the checks that need the registries or the machine: the monitor the pipeline logs, the
cross-domain datasets and their options, the seed, a Lightning trainer that can be built on
this machine (accelerator, devices, strategy), and folders the run will write to.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipelines.registry import PipelineSpec, registered_pipelines
from shared.cache import CACHE_VARIABLE, cache_root
from shared.datasets import DatasetSpec, checked_options, get_dataset
from shared.methods import method_config_from_mapping
from shared.stacking import check_domain_adapters
from shared.validation import is_count, require


class ConfigError(ValueError):
    """A config that cannot be composed or does not fit the schema."""


def check_values(config: DictConfig, pipeline: PipelineSpec, dataset: DatasetSpec) -> None:
    OmegaConf.to_object(config)  # runs each section's own checks (`__post_init__`)
    method_config_from_mapping(OmegaConf.to_container(config.method))  # method.name=<typo>
    require(is_count(config.seed), "seed", config.seed, "an integer >= 0")
    monitor, mode = config.pipeline.monitor, config.pipeline.monitor_mode
    require(mode in ("max", "min"), "pipeline.monitor_mode", mode, "'max' or 'min'")
    logged = ", ".join(pipeline.validation_metrics)
    require(
        monitor in pipeline.validation_metrics,
        "pipeline.monitor",
        monitor,
        f"a metric pipeline {pipeline.name!r} logs in validation: {logged}",
    )
    data = config.data
    if data.name != dataset.name:
        raise ConfigError(f"data.name={data.name!r}: choose the dataset with data={data.name}")
    cross_domain = OmegaConf.to_container(data.cross_domain, resolve=True)
    if cross_domain and not pipeline.cross_domain_tests:
        serving = [p.name for p in registered_pipelines().values() if p.cross_domain_tests]
        raise ConfigError(
            f"data.cross_domain={sorted(cross_domain)}: pipeline {pipeline.name!r} scores only its "
            f"own test split; remove data.cross_domain (pipelines that score other datasets: "
            f"{', '.join(sorted(serving))})"
        )
    for name, options in cross_domain.items():
        spec = get_dataset(name, pipeline.name, field_name=f"data.cross_domain.{name}")
        checked_options(spec, options, prefix=f"data.cross_domain.{name}")
    stack = config.stack
    # readable, stackable (and able to stay live if asked to train), none twice
    check_domain_adapters(stack.domain_adapters, trainable=stack.train_domain)


def check_environment(config: DictConfig) -> None:
    check_writable(Path(config.run.output_dir), "run.output_dir")
    check_writable(cache_root(), f"the cache folder (set {CACHE_VARIABLE} or HOME)")
    check_trainer(trainer_settings(config))


def trainer_settings(config: DictConfig) -> dict[str, Any]:
    """The keyword arguments for `lightning.Trainer` (unset options take Lightning's default)."""
    settings = OmegaConf.to_container(config.trainer, resolve=True)
    return {key: value for key, value in settings.items() if value is not None}


def check_writable(folder: Path, field: str) -> None:
    """The folder, or the nearest part of its path that exists, takes a new file; nothing is
    created by checking."""
    existing = folder.expanduser().absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{field}={str(folder)!r} is not writable: {existing} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ConfigError(f"{field}={str(folder)!r} is not writable: {error.strerror}") from None


def check_trainer(settings: dict[str, Any]) -> None:
    """Build (and discard) the trainer: an accelerator that is not here, devices=0 or an
    unknown strategy fail now, in Lightning's own words, not after the data has loaded."""
    import lightning

    try:
        with quiet_lightning():
            lightning.Trainer(
                **settings,
                logger=False,
                enable_checkpointing=False,
                enable_model_summary=False,
            )
    except Exception as error:  # noqa: BLE001 - any refusal of Lightning's is a config error
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ConfigError(f"trainer: {message}") from None


@contextmanager
def quiet_lightning():
    """Lightning logs its device summary ("GPU available: ...") for every trainer it builds."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
