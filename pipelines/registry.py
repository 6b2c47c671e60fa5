"""The single list of domain pipelines, by the name used in `pipeline.name`, with their schemas.

A domain is one folder under `pipelines/` whose `__init__` calls `register_pipeline`: it names the
function that prepares data and backbone (imported only when a run needs it, so one domain's
dependencies never slow down or break another's), its own config sections (image size, audio
window, generation settings: whatever only that domain reads), the validation metrics its
LightningModule logs, and the module that registers its datasets. Nothing outside the folder
lists it: `registered_pipelines` imports every sub-package of `pipelines` (and any installed
package that declares a `peftsuite.pipelines` entry point), so adding a folder adds a domain;
`$PEFTSUITE_PLUGINS` names further modules to import, comma-separated.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from omegaconf import MISSING

from shared.validation import is_count, require

ENTRY_POINT_GROUP = "peftsuite.pipelines"
# Modules to import for their registrations, comma-separated: a domain without a package.
PLUGINS_VARIABLE = "PEFTSUITE_PLUGINS"


@dataclass
class DataSection:
    """What every pipeline's `data` section holds; a pipeline subclasses it to add its own."""

    name: str = MISSING
    data_dir: str | None = None
    fraction: float | None = None
    k_shot: int | None = None
    batch_size: int = 16
    eval_batch_size: int = 64
    num_workers: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    # Cross-domain test sets: dataset name -> its options; their test splits are scored beside
    # the in-domain test (same label set), e.g. {fsdd: {split: speakers}} after synthetic speech.
    cross_domain: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fraction, k_shot = self.fraction, self.k_shot
        require(fraction is None or 0 < fraction <= 1, "data.fraction", fraction, "in (0, 1]")
        require(k_shot is None or is_count(k_shot, 1), "data.k_shot", k_shot, "at least 1")
        for name in ("batch_size", "eval_batch_size"):
            require(is_count(getattr(self, name), 1), f"data.{name}", getattr(self, name), ">= 1")
        require(is_count(self.num_workers), "data.num_workers", self.num_workers, ">= 0")


@dataclass
class ModelSection:
    """What every pipeline's `model` section holds; a pipeline subclasses it to add its own."""

    name: str = MISSING


@dataclass
class TextModelSection(ModelSection):
    max_length: int = 128  # tokens per input; longer inputs are truncated

    def __post_init__(self) -> None:
        require(is_count(self.max_length, 1), "model.max_length", self.max_length, ">= 1 token")


@dataclass(frozen=True)
class PipelineSpec:
    """One registered domain pipeline.

    Attributes:
        prepare: "module:function" (or the function) turning a composed config into a
            `PreparedPipeline`; every input check happens there, before training.
        data_section, model_section: the schemas of `data` and `model` for this pipeline.
        sections: further top-level config sections only this pipeline reads, by name.
        validation_metrics: what its LightningModule logs in validation; `pipeline.monitor`
            must be one of them.
        test_metrics: the test metrics reports lead with, first the primary one.
        datasets_module: the module whose import registers the pipeline's datasets.
        cross_domain_tests: whether it also scores the test splits of `data.cross_domain`
            datasets (same label set); a config asking a pipeline without them is refused.
    """

    name: str
    prepare: str | Callable[..., Any]
    data_section: type = DataSection
    model_section: type = ModelSection
    sections: Mapping[str, type] = field(default_factory=dict)
    validation_metrics: tuple[str, ...] = ("val_loss",)
    test_metrics: tuple[str, ...] = ("accuracy",)
    datasets_module: str | None = None
    cross_domain_tests: bool = False

    def prepare_function(self) -> Callable[..., Any]:
        if callable(self.prepare):
            return self.prepare
        module_name, function_name = self.prepare.split(":")
        return getattr(importlib.import_module(module_name), function_name)

    def register_datasets(self) -> None:
        if self.datasets_module is not None:
            importlib.import_module(self.datasets_module)


_PIPELINES: dict[str, PipelineSpec] = {}


def register_pipeline(spec: PipelineSpec) -> None:
    """Add a pipeline; a second registration under the same name is a programming error."""
    if spec.name in _PIPELINES:
        raise ValueError(f"pipeline {spec.name!r} is registered twice")
    _PIPELINES[spec.name] = spec


def registered_pipelines() -> dict[str, PipelineSpec]:
    """Every pipeline: the folders under `pipelines/`, installed plug-ins, and any registered
    directly (e.g. by a test)."""
    import pipelines

    for module in pkgutil.iter_modules(pipelines.__path__):
        if module.ispkg:
            importlib.import_module(f"pipelines.{module.name}")
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        entry_point.load()
    for module_name in filter(None, os.environ.get(PLUGINS_VARIABLE, "").split(",")):
        importlib.import_module(module_name.strip())
    return dict(_PIPELINES)


def get_pipeline(name: str) -> PipelineSpec:
    pipelines = registered_pipelines()
    if name not in pipelines:
        raise ValueError(
            f"pipeline.name: unknown pipeline {name!r}; choose one of {sorted(pipelines)}"
        )
    return pipelines[name]


def prepare_pipeline(config: Any) -> Any:
    """The `PreparedPipeline` of a composed config: its pipeline's data, backbone and context."""
    return get_pipeline(config.pipeline.name).prepare_function()(config)
