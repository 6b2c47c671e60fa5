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
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import shared.methods  # noqa: F401  (registers every method's config group option)
from peftsuite.checks import ConfigError, check_environment, check_values
from pipelines.registry import PipelineSpec, get_pipeline, registered_pipelines
from shared.datasets import DatasetSpec, get_dataset
from shared.methods.registry import MethodConfig
from shared.validation import is_count, require

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
    """Passed to `lightning.Trainer` as keyword arguments; `trainer_section()` adds the rest of
    Lightning's own options, so any of them can be set (`trainer.num_sanity_val_steps=0`)."""

    max_epochs: int = 3  # 0 tests the model as it is (zero-shot), without fitting
    accelerator: str = "auto"
    devices: Any = "auto"
    precision: str = "32-true"
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    log_every_n_steps: int = 10
    gradient_clip_val: float | None = None
    enable_progress_bar: bool = True

    def __post_init__(self) -> None:
        # Lightning reads max_epochs=-1 as "train forever".
        require(is_count(self.max_epochs), "trainer.max_epochs", self.max_epochs, ">= 0")
        for name in ("limit_train_batches", "limit_val_batches", "limit_test_batches"):
            value = getattr(self, name)
            require(
                value is None or is_count(value) or (isinstance(value, float) and 0 <= value <= 1),
                f"trainer.{name}",
                value,
                "a number of batches >= 0, a fraction in [0, 1], or null for all",
            )
        require(
            is_count(self.log_every_n_steps, 1),
            "trainer.log_every_n_steps",
            self.log_every_n_steps,
            ">= 1",
        )


# Lightning options the runner sets itself: a config cannot change them.
RUNNER_OWNED_TRAINER_OPTIONS = {
    "callbacks",
    "logger",
    "plugins",
    "default_root_dir",
    "enable_checkpointing",
    "enable_model_summary",
}


def trainer_section() -> type:
    """`TrainerSection` plus every other keyword of `lightning.Trainer` with a plain default."""
    import lightning

    own = {item.name for item in dataclasses.fields(TrainerSection)} | RUNNER_OWNED_TRAINER_OPTIONS
    extra = [
        (name, Any, field(default=parameter.default))
        for name, parameter in inspect.signature(lightning.Trainer.__init__).parameters.items()
        if name not in own
        and parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and (parameter.default is None or isinstance(parameter.default, (bool, int, float, str)))
    ]
    return dataclasses.make_dataclass("TrainerSection", extra, bases=(TrainerSection,))


@dataclass
class OptimSection:
    lr: float | None = None  # None takes the method's default learning rate
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        require(
            self.lr is None or self.lr > 0,
            "optim.lr",
            self.lr,
            "> 0, or null for the method's default",
        )
        require(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, ">= 0")


@dataclass
class RunSection:
    """Where and how a run is recorded; none of it changes the experiment (or its hash)."""

    output_dir: str = "runs"
    name: str | None = None  # None names the run directory after the config's hash
    logger: str = "csv"  # csv | tensorboard | mlflow (local file store unless tracking_uri)
    tracking_uri: str | None = None  # MLflow only; default <output_dir>/mlruns
    watts_per_cpu_core: float = 10.0  # the energy estimate's assumption where nothing measures

    def __post_init__(self) -> None:
        require(bool(self.output_dir), "run.output_dir", self.output_dir, "a folder")
        loggers = ("csv", "tensorboard", "mlflow")
        require(self.logger in loggers, "run.logger", self.logger, f"one of {', '.join(loggers)}")
        watts = self.watts_per_cpu_core
        require(watts > 0, "run.watts_per_cpu_core", watts, "a positive number of watts")


@dataclass
class StackSection:
    """Two-step PEFT: domain adapters (run directories or adapter files), loaded frozen in this
    order under the task method; each one's task head is dropped."""

    domain_adapters: list[str] = field(default_factory=list)
    # Keep LoRA domain adapters training with the task adapter (Gema et al.'s "trainable
    # clinical LoRA"), at domain_lr (null: the task's learning rate).
    train_domain: bool = False
    domain_lr: float | None = None

    def __post_init__(self) -> None:
        train = self.train_domain
        require(
            not train or bool(self.domain_adapters),
            "stack.train_domain",
            train,
            "false unless stack.domain_adapters names the adapters to train",
        )
        rate = self.domain_lr
        require(
            rate is None or (train and rate > 0),
            "stack.domain_lr",
            rate,
            "a positive rate with stack.train_domain=true, or null",
        )


COMMON_SECTIONS: dict[str, type] = {
    "pipeline": PipelineSection,
    "method": MethodConfig,
    "optim": OptimSection,
    "stack": StackSection,
    "run": RunSection,
}


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
        "trainer": trainer_section(),
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
    registered_pipelines()  # plug-ins register their config group options before composing
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
    check_environment(config)
    return config
