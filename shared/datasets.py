"""The single list of datasets, by the name used in `data.name`, with each one's options.

Like the method registry, every dataset registers itself once (duplicates are rejected) with
its loader, the pipeline that reads it and a dataclass of its options. That dataclass is the only
place an option's name, type and default are written: `checked_options` rejects unknown names and
wrong types in one line, at config composition and again before loading, so no loader repeats
the check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException


@dataclass
class NoOptions:
    """For datasets that take no `data.options`."""


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset.

    Attributes:
        loader: reads the dataset; its signature is the pipeline's own convention.
        pipeline: the `pipeline.name` that reads it.
        options: a dataclass of its `data.options` with their defaults.
        source: where to get it and its license, for error messages and cards.
        test_only: a domain to evaluate on, never to train on (all its examples are test).
        facts: what else the pipeline needs to know (label names, files, channels, ...).
    """

    name: str
    loader: Callable[..., Any]
    pipeline: str
    options: type
    source: str
    test_only: bool = False
    facts: Any = None


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(
    name: str,
    loader: Callable[..., Any],
    *,
    pipeline: str,
    options: type = NoOptions,
    source: str,
    test_only: bool = False,
    facts: Any = None,
) -> DatasetSpec:
    """Add a dataset; a second registration under the same name is a programming error."""
    if name in _DATASETS:
        raise ValueError(f"dataset {name!r} is registered twice")
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"dataset {name!r}: options must be a dataclass, got {options!r}")
    spec = DatasetSpec(name, loader, pipeline, options, source, test_only, facts)
    _DATASETS[name] = spec
    return spec


def dataset_names(pipeline: str | None = None, *, trainable: bool | None = None) -> list[str]:
    """Registered names, optionally only one pipeline's, or only (non-)trainable ones."""
    return [
        name
        for name, spec in _DATASETS.items()
        if (pipeline is None or spec.pipeline == pipeline)
        and (trainable is None or trainable != spec.test_only)
    ]


def find_dataset(name: str) -> DatasetSpec | None:
    """The registered dataset `name`, whatever its pipeline (None if there is none)."""
    return _DATASETS.get(name)


def get_dataset(name: str, pipeline: str, *, field_name: str = "data.name") -> DatasetSpec:
    """The dataset `name` of `pipeline`; anything else names the valid choices."""
    spec = _DATASETS.get(name)
    if spec is None or spec.pipeline != pipeline:
        raise ValueError(
            f"{field_name}={name!r} is not a {pipeline} dataset; valid names: "
            f"{', '.join(dataset_names(pipeline))}."
        )
    return spec


def option_names(spec: DatasetSpec) -> list[str]:
    return [field.name for field in dataclasses.fields(spec.options)]


def checked_options(
    spec: DatasetSpec, values: Mapping[str, Any] | None, *, prefix: str = "data.options"
) -> dict[str, Any]:
    """Every option of `spec` with `values` applied, after checking their names and types.

    Raises:
        ValueError: one line naming the option, the dataset and what would be right.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(spec.options), dict(values or {}))
    except ConfigKeyError as error:
        unknown = sorted(set(values or {}) - set(option_names(spec)))
        raise ValueError(
            f"unknown option(s) {', '.join(f'{prefix}.{key}' for key in unknown)} for "
            f"data.name={spec.name!r}; valid options: {', '.join(option_names(spec)) or 'none'}."
        ) from error
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "?"
        raise ValueError(
            f"{prefix}.{key} for data.name={spec.name!r}: {str(error).splitlines()[0]}"
        ) from error
    return OmegaConf.to_container(merged, resolve=True)
