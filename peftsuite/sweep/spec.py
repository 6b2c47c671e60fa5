"""What a sweep is: a grid of config overrides, read from a YAML file, expanded into cells.

A sweep file:

    name: pneumonia_fair_lr              # results go to <output_dir>/<name>/
    output_dir: sweeps                   # optional, default "sweeps"
    overrides: [experiment=pneumoniamnist_efficientnet_lite0, data.image_size=32]
    grid:                                # every combination is one cell (one ordinary run)
      method: [full, bitfit, lora_r2]
      data.fraction: [0.1, 1.0]
      seed: [0, 1, 2]
    variants:                            # a grid value that stands for several overrides
      lora_r2: [method=lora, method.r=2]
    learning_rates:                      # optional: chosen on validation per `method` value
      full: [1.0e-5, 5.0e-5]
      default: [1.0e-3, 5.0e-3]          # for values not listed
    selection: validation                # or "oracle" (test metric; labelled as such)
    metrics: [accuracy, auroc_macro]     # reported; default: the pipeline's monitor's test twin
    domains:                             # optional cross-domain matrix (same label set)
      fsdd: {split: speakers}
      espeak_digits: {}
      asterisk_digits: {}                # a test-only dataset is a column, never a row
    compare:                             # optional: [treatment, baseline] values of one axis,
      - [domain_lora, lora]              # their difference reported per seed (paired)

With `domains`, each trainable domain trains once per other grid cell and is tested on all the
others (`data.cross_domain`). Everything is checked before any cell runs; every offending value
is listed in one error.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SPEC_KEYS = {
    "name",
    "output_dir",
    "overrides",
    "grid",
    "variants",
    "learning_rates",
    "selection",
    "metrics",
    "domains",
    "compare",
}
SIZE_AXES = ("data.fraction", "data.k_shot")


class SweepError(ValueError):
    """A sweep that cannot run; the message lists every problem found."""


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: its place on each axis (labels) and its overrides."""

    labels: dict[str, Any]
    overrides: list[str]

    @property
    def key(self) -> str:
        return ",".join(f"{axis}={value}" for axis, value in self.labels.items())


@dataclass
class SweepSpec:
    name: str
    grid: dict[str, list[Any]]
    overrides: list[str] = field(default_factory=list)
    output_dir: str = "sweeps"
    variants: dict[str, list[str]] = field(default_factory=dict)
    learning_rates: dict[str, list[float]] = field(default_factory=dict)
    selection: str = "validation"
    metrics: list[str] = field(default_factory=list)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    compare: list[list[Any]] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return Path(self.output_dir) / self.name

    def axis_overrides(self, axis: str, value: Any) -> list[str]:
        if isinstance(value, str) and value in self.variants:
            return list(self.variants[value])
        if axis == "method" and isinstance(value, str):
            return [f"method={value}"]
        return [f"{axis}={format_value(value)}"]

    def cells(self, extra: dict[str, Any] | None = None) -> list[Cell]:
        """Every combination of the grid (and of the trainable domains, with `domains`)."""
        axes = dict(self.grid)
        if self.domains:
            axes = {"domain": self.trainable_domains(), **axes}
        cells = []
        for values in itertools.product(*axes.values()):
            labels = dict(zip(axes, values, strict=True)) | (extra or {})
            overrides = list(self.overrides)
            for axis, value in labels.items():
                if axis == "domain":
                    overrides += self.domain_overrides(value)
                elif axis == "optim.lr":
                    overrides.append(f"optim.lr={format_value(value)}")
                else:
                    overrides += self.axis_overrides(axis, value)
            cells.append(Cell(labels, overrides))
        return cells

    def trainable_domains(self) -> list[str]:
        from peftsuite.sweep.domains import is_test_only

        return [name for name in self.domains if not is_test_only(name)]

    def domain_overrides(self, source: str) -> list[str]:
        overrides = [f"data={source}"]
        overrides += [
            f"data.options.{key}={format_value(value)}"
            for key, value in (self.domains[source] or {}).items()
        ]
        for target, options in self.domains.items():
            if target != source:
                overrides.append(f"++data.cross_domain.{target}={format_mapping(options or {})}")
        return overrides

    @property
    def size_axis(self) -> str | None:
        return next((axis for axis in SIZE_AXES if axis in self.grid), None)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return format_mapping(value)
    return str(value)


def format_mapping(values: dict[str, Any]) -> str:
    return "{" + ",".join(f"{key}:{format_value(value)}" for key, value in values.items()) + "}"


def read_sweep(path: str | Path, command_line: list[str] | None = None) -> SweepSpec:
    """Read and check a sweep file; `command_line` adds overrides to every cell."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"sweep file {path} does not exist") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        reason = " ".join(str(getattr(error, "problem", None) or error).split())
        raise SweepError(f"sweep file {path} does not parse{where}: {reason}") from None
    if not isinstance(raw, dict):
        raise SweepError(f"sweep file {path} must be a mapping with name, grid, ...")
    raw["overrides"] = [*(raw.get("overrides") or []), *(command_line or [])]
    return sweep_from_mapping(raw, where=str(path))


def sweep_from_mapping(raw: dict[str, Any], where: str = "sweep") -> SweepSpec:
    problems = []
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        problems.append(f"unknown key(s) {unknown}; valid: {sorted(SPEC_KEYS)}")
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict) or (not grid and not raw.get("domains")):
        problems.append("grid is empty: give at least one axis, e.g. grid: {seed: [0, 1, 2]}")
        grid = {}
    for axis, values in grid.items():
        if not isinstance(values, list) or not values:
            problems.append(f"grid.{axis} must be a non-empty list, got {values!r}")
        elif len({format_value(v) for v in values}) != len(values):
            problems.append(f"grid.{axis} lists a value twice: {values}")
    for axis in SIZE_AXES:
        for value in grid.get(axis) or []:
            bad_fraction = axis == "data.fraction" and not (
                isinstance(value, (int, float)) and 0 < value <= 1
            )
            bad_k = axis == "data.k_shot" and not (isinstance(value, int) and value >= 1)
            if bad_fraction or bad_k:
                problems.append(f"grid.{axis} value {value!r} is outside its range")
    selection = raw.get("selection", "validation")
    if selection not in ("validation", "oracle"):
        problems.append(f"selection={selection!r}: must be 'validation' or 'oracle'")
    for method, rates in (raw.get("learning_rates") or {}).items():
        if (
            not isinstance(rates, list)
            or not rates
            or any(not isinstance(rate, (int, float)) or rate <= 0 for rate in rates)
        ):
            problems.append(f"learning_rates.{method} must be a list of positive numbers")
    problems += compare_problems(raw.get("compare") or [], grid)
    if not raw.get("name"):
        problems.append("name is missing: it names the sweep's folder")
    if problems:
        raise SweepError(f"{where}: " + "; ".join(problems))
    return SweepSpec(
        name=str(raw["name"]),
        grid=grid,
        overrides=[str(item) for item in raw.get("overrides") or []],
        output_dir=str(raw.get("output_dir") or "sweeps"),
        variants={k: [str(o) for o in v] for k, v in (raw.get("variants") or {}).items()},
        learning_rates={k: list(v) for k, v in (raw.get("learning_rates") or {}).items()},
        selection=selection,
        metrics=list(raw.get("metrics") or []),
        domains=dict(raw.get("domains") or {}),
        compare=[list(pair) for pair in raw.get("compare") or []],
    )


def compare_problems(pairs: Any, grid: dict[str, Any]) -> list[str]:
    """Each comparison must name two different values of one grid axis."""
    if not isinstance(pairs, list):
        return [f"compare must be a list of [treatment, baseline] pairs, got {pairs!r}"]
    problems = []
    for pair in pairs:
        fits = isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]
        if not fits or not any(
            isinstance(values, list) and all(value in values for value in pair)
            for values in grid.values()
        ):
            problems.append(f"compare {pair!r} must be two different values of one grid axis")
    return problems
