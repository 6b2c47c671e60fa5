"""Compose the YAML configs in `configs/` with Hydra and check them against a schema.

Hydra composes groups (pipeline, model, method, data, trainer, experiment) and applies
command-line overrides. The schema is what every run has (below) plus what the chosen pipeline
registers (its `data` and `model` fields, its own sections such as `generation`), and the chosen
method's config class (`method=<name>` is that dataclass, stored in Hydra's ConfigStore). Any
key the schema does not know and any value of the wrong type fails at composition with the key's
full name, before data or models load; `data.options` is typed by the chosen dataset's options
class. Composition runs twice: first to learn which pipeline and dataset the groups select, then
with their schema.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipelines.registry import PipelineSpec, get_pipeline
from shared.datasets import DatasetSpec, checked_options, get_dataset
from shared.methods import method_config_from_mapping
from shared.methods.registry import MethodConfig

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
SCHEMA_NAME = "suite_schema"


@dataclass
class PipelineSection:
    name: str = MISSING
    baselines: bool = True
    monitor: str = "val_auroc"  # the validation metric that picks the checkpoint to test
    monitor_mode: str = "max"  # "max" or "min" (e.g. val_loss)


@dataclass
class TrainerSection:
    """Passed to `lightning.Trainer` as keyword arguments."""

    max_epochs: int = 3
    accelerator: str = "auto"
    devices: Any = "auto"
    precision: str = "32-true"
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    log_every_n_steps: int = 10
    gradient_clip_val: float | None = None
    enable_progress_bar: bool = True


@dataclass
class OptimSection:
    lr: float | None = None  # None takes the method's default learning rate
    weight_decay: float = 0.0


@dataclass
class RunSection:
    output_dir: str = "runs"
    name: str | None = None  # None names the run directory after the config's hash


COMMON_SECTIONS: dict[str, type] = {
    "pipeline": PipelineSection,
    "method": MethodConfig,
    "trainer": TrainerSection,
    "optim": OptimSection,
    "run": RunSection,
}


class ConfigError(ValueError):
    """A config that cannot be composed or does not fit the schema."""


def suite_schema(pipeline: PipelineSpec, dataset: DatasetSpec) -> type:
    """The schema of a run of `pipeline` on `dataset`: the common sections, the pipeline's own,
    and `data.options` typed by the dataset's options class."""
    data_section = dataclasses.make_dataclass(
        f"{dataset.name}_data",
        [("options", dataset.options, field(default_factory=dataset.options))],
        bases=(pipeline.data_section,),
    )
    sections = {
        **COMMON_SECTIONS,
        "data": data_section,
        "model": pipeline.model_section,
        **pipeline.sections,
    }
    fields = [(name, kind, field(default_factory=kind)) for name, kind in sections.items()]
    return dataclasses.make_dataclass(
        f"{pipeline.name}_config", [*fields, ("seed", int, field(default=0))]
    )


def group_selections(overrides: list[str]) -> list[str]:
    """The overrides that choose group options (`pipeline=vision`, `experiment=...`)."""
    return [item for item in overrides if "." not in item.split("=", 1)[0]]


OPEN_MAPS = ("data.cross_domain.",)


def refuse_additions(overrides: list[str], config_dir: Path) -> None:
    """Hydra's `+key=value` adds a key past the schema, so a typo would slip in as a new key:
    only a config group (`+experiment=...`) or an entry of the open map whose keys are checked
    against the dataset registry (`data.cross_domain`) may be added."""
    for item in overrides:
        key = item.split("=", 1)[0]
        if not key.startswith("+"):
            continue
        name = key.lstrip("+")
        if "." not in name and (config_dir / name).is_dir() or name.startswith(OPEN_MAPS):
            continue
        raise ConfigError(
            f"{item}: {name!r} is not a config key or group, and '+' cannot add one; "
            "set existing keys without '+' (`peftsuite show-config` lists them)"
        )


def compose_with(schema: Any, overrides: list[str], config_dir: Path) -> DictConfig:
    # The schema is the first entry of config.yaml's defaults, so every key it declares can be
    # overridden even where no YAML file sets it.
    ConfigStore.instance().store(name=SCHEMA_NAME, node=schema)
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"config: {one_line(error)}") from error


# Lines of Hydra's messages that add nothing, or mislead: "+key" would bypass the schema.
HYDRA_DETAILS = ("reference_type=", "object_type=", "To append to your config use")


def one_line(error: BaseException) -> str:
    """Hydra's and OmegaConf's messages run over many lines (search path, node types); keep
    the lines that say where and why, and list an unknown group option's valid choices."""
    lines = [
        line.strip().rstrip(".:")
        for line in str(error).split("Config search path:")[0].splitlines()
        if line.strip() and not line.strip().startswith(HYDRA_DETAILS)
    ]
    listing = [i for i, line in enumerate(lines) if line.startswith("Available options")]
    if listing:
        lines = [*lines[: listing[0]], "choose one of: " + ", ".join(lines[listing[0] + 1 :])]
    message = "; ".join(lines) or type(error).__name__
    cause = error.__cause__
    if cause is not None and str(cause).strip() and str(cause) not in str(error):
        message = f"{message}: {one_line(cause)}"
    return message


def load_config(overrides: list[str] | None = None, config_dir: Path = CONFIG_DIR) -> DictConfig:
    """Compose `config.yaml` with `overrides` (Hydra syntax) and validate every section.

    Raises:
        ConfigError: naming the offending key, group or value.
    """
    overrides = list(overrides or [])
    refuse_additions(overrides, config_dir)
    chosen = compose_with({}, group_selections(overrides), config_dir)
    pipeline = get_pipeline(chosen.pipeline.name)
    pipeline.register_datasets()
    dataset = get_dataset(chosen.data.name, pipeline.name)
    config = compose_with(suite_schema(pipeline, dataset), overrides, config_dir)
    OmegaConf.set_readonly(config, False)
    if config.pipeline.name != pipeline.name:
        raise ConfigError(
            f"pipeline.name={config.pipeline.name!r}: choose the pipeline with the group "
            f"(pipeline={config.pipeline.name}), not its name field"
        )
    check_values(config, pipeline, dataset)
    return config


def check_values(config: DictConfig, pipeline: PipelineSpec, dataset: DatasetSpec) -> None:
    """What types alone cannot say: the method's own checks, dataset options, the monitor."""
    method_config_from_mapping(OmegaConf.to_container(config.method, resolve=True))
    if config.pipeline.monitor_mode not in ("max", "min"):
        raise ConfigError(
            f"pipeline.monitor_mode must be 'max' or 'min', got {config.pipeline.monitor_mode!r}"
        )
    if config.pipeline.monitor not in pipeline.validation_metrics:
        raise ConfigError(
            f"pipeline.monitor={config.pipeline.monitor!r}: pipeline {pipeline.name!r} logs "
            f"{', '.join(pipeline.validation_metrics)} in validation; choose one of them"
        )
    data = config.data
    if data.name != dataset.name:
        raise ConfigError(f"data.name={data.name!r}: choose the dataset with data={data.name}")
    for name, options in OmegaConf.to_container(data.cross_domain, resolve=True).items():
        spec = get_dataset(name, pipeline.name, field_name=f"data.cross_domain.{name}")
        checked_options(spec, options, prefix=f"data.cross_domain.{name}")
