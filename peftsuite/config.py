"""Compose the YAML configs in `configs/` with Hydra and check them against a schema.

Hydra composes groups (pipeline, model, method, data, trainer, experiment) and applies
command-line overrides; the schema below then rejects any key it does not know, so a typo in a
YAML file or an override fails at once with the key's full name instead of being ignored.
Method fields are checked by the method's own config class (`shared.methods`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from shared.methods import method_config_from_mapping

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class PipelineSection:
    name: str = MISSING
    baselines: bool = True
    monitor: str = "val_auroc"  # the validation metric that picks the checkpoint to test
    monitor_mode: str = "max"  # "max" or "min" (e.g. val_loss)


@dataclass
class ModelSection:
    name: str = MISSING
    max_length: int = 128  # text only: tokens per input


@dataclass
class DataSection:
    name: str = MISSING
    data_dir: str | None = None
    fraction: float | None = None
    k_shot: int | None = None
    batch_size: int = 16
    eval_batch_size: int = 64
    num_workers: int = 0
    image_size: int = 64  # images only: input resolution (28 is MedMNIST's native size)
    augment: bool = False  # images only: random flips, small rotations and zooms in training
    window_seconds: float = 2.5  # audio only: the encoder's input window (clips are padded)
    options: dict[str, Any] = field(default_factory=dict)
    # Cross-domain test sets: dataset name -> its options; their test splits are scored beside
    # the in-domain test (same label set), e.g. {fsdd: {split: speakers}} after synthetic speech.
    cross_domain: dict[str, Any] = field(default_factory=dict)


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
class GenerationSection:
    """Translation only: how translations are generated for validation and test."""

    max_new_tokens: int = 64  # also the truncation length of training targets
    num_beams: int = 1  # 1 is greedy, deterministic decoding
    val_sentences: int = 32  # validation sentences translated each epoch for val_chrf


@dataclass
class OptimSection:
    lr: float | None = None  # None takes the method's default learning rate
    weight_decay: float = 0.0


@dataclass
class RunSection:
    output_dir: str = "runs"
    name: str | None = None  # None names the run directory after the config's hash


@dataclass
class SuiteConfig:
    pipeline: PipelineSection = field(default_factory=PipelineSection)
    model: ModelSection = field(default_factory=ModelSection)
    method: dict[str, Any] = field(default_factory=dict)
    data: DataSection = field(default_factory=DataSection)
    trainer: TrainerSection = field(default_factory=TrainerSection)
    optim: OptimSection = field(default_factory=OptimSection)
    generation: GenerationSection = field(default_factory=GenerationSection)
    run: RunSection = field(default_factory=RunSection)
    seed: int = 0


class ConfigError(ValueError):
    """A config that cannot be composed or does not fit the schema."""


def load_config(overrides: list[str] | None = None, config_dir: Path = CONFIG_DIR) -> DictConfig:
    """Compose `config.yaml` with `overrides` (Hydra syntax) and validate every section.

    Raises:
        ConfigError: naming the offending key, group or value.
    """
    # The schema is the first entry of config.yaml's defaults, so every key it declares can be
    # overridden even where no YAML file sets it.
    ConfigStore.instance().store(name="suite_schema", node=SuiteConfig)
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            config = compose(config_name="config", overrides=list(overrides or []))
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"config: {error}") from error
    OmegaConf.set_readonly(config, False)
    method_config_from_mapping(OmegaConf.to_container(config.method, resolve=True))
    if config.pipeline.monitor_mode not in ("max", "min"):
        raise ConfigError(
            f"pipeline.monitor_mode must be 'max' or 'min', got {config.pipeline.monitor_mode!r}"
        )
    return config
