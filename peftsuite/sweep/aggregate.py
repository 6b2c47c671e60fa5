"""From a sweep's finished cells to numbers people compare: per-cell statistics over seeds and
the cross-domain matrix (rows trained on, columns tested on, diagonal in domain)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

from peftsuite.sweep.spec import SweepSpec

SEED_AXIS = "seed"


@dataclass(frozen=True)
class Summary:
    """Mean, standard deviation (ddof=1), standard error and 95% t-interval of `values`."""

    n: int
    mean: float
    std: float | None
    sem: float | None
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "sem": self.sem,
            "ci95": list(self.ci95) if self.ci95 else None,
        }

    def text(self, digits: int = 3) -> str:
        spread = f" ± {self.std:.{digits}f}" if self.std is not None else ""
        return f"{self.mean:.{digits}f}{spread} (n={self.n})"


def summarize(values: Sequence[float]) -> Summary:
    """Statistics of one cell over its seeds; spread needs two values or more."""
    values = [float(v) for v in values]
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Summary(n, mean, None, None, None)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    sem = std / math.sqrt(n)
    half = float(stats.t.ppf(0.975, n - 1)) * sem
    return Summary(n, mean, std, sem, (mean - half, mean + half))


def primary_metric(spec: SweepSpec, planned: Sequence[Any]) -> str:
    """The metric tables lead with: the sweep's first, else the pipeline's first test metric."""
    if spec.metrics:
        return spec.metrics[0]
    return pipeline_metrics(planned)[0]


def pipeline_metrics(planned: Sequence[Any]) -> list[str]:
    from peftsuite.config import load_config
    from pipelines.registry import get_pipeline

    config = load_config(planned[0].cell.overrides)
    return list(get_pipeline(config.pipeline.name).test_metrics)


def group_key(labels: dict[str, Any], drop: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    return tuple((axis, value) for axis, value in labels.items() if axis not in drop)


def aggregate(records: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per cell of the grid without its seed axis: each metric and cost summarized."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(group_key(record["labels"], [SEED_AXIS]), []).append(record)
    rows = []
    for key, members in groups.items():
        row: dict[str, Any] = {
            "labels": dict(key),
            "seeds": sorted(
                m["labels"].get(SEED_AXIS) for m in members if SEED_AXIS in m["labels"]
            ),
        }
        for metric in metrics:
            values = [
                m["metrics"]["test"][metric] for m in members if metric in m["metrics"]["test"]
            ]
            row[metric] = summarize(values).to_dict() if values else None
        for cost in ("trainable_parameters", "peak_memory_mb", "train_seconds", "adapter_bytes"):
            values = [m["metrics"]["costs"].get(cost) for m in members]
            values = [v for v in values if v is not None]
            row[cost] = summarize(values).to_dict() if values else None
        rows.append(row)
    return rows


def pipeline_baselines(
    records: Sequence[dict[str, Any]], metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """The pipeline's own cheap baselines (e.g. TF-IDF + logistic regression), which each run
    fits on its own training split: a row per baseline and group of the other axes, over seeds.
    Every method's run at one seed shares that split, so each seed counts once."""
    scores: dict[tuple, dict[Any, dict[str, Any]]] = {}
    for record in records:
        labels = record["labels"]
        for name, values in record["metrics"].get("baselines", {}).items():
            key = (("baseline", name), *group_key(labels, [SEED_AXIS, "method"]))
            scores.setdefault(key, {}).setdefault(labels.get(SEED_AXIS), values)
    rows = []
    for key, by_seed in scores.items():
        row: dict[str, Any] = {"labels": dict(key), "seeds": sorted(by_seed, key=str)}
        for metric in metrics:
            values = [v[metric] for v in by_seed.values() if v.get(metric) is not None]
            row[metric] = summarize(values).to_dict() if values else None
        rows.append(row)
    return rows


def cross_domain_matrices(records: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Per group of the other axes (e.g. per method): rows = training domain, columns = every
    test domain (the diagonal is the in-domain test), each cell summarized over seeds."""
    groups: dict[tuple, dict[str, dict[str, list[float]]]] = {}
    for record in records:
        source = record["labels"].get("domain")
        if source is None:
            continue
        key = group_key(record["labels"], [SEED_AXIS, "domain"])
        scores = {source: record["metrics"]["test"].get(metric)}
        for target, values in record["metrics"].get("cross_domain", {}).items():
            scores[target] = values.get(metric)
        row = groups.setdefault(key, {}).setdefault(source, {})
        for target, value in scores.items():
            if value is not None:
                row.setdefault(target, []).append(value)
    matrices = []
    for key, rows in groups.items():
        columns = list(rows) + sorted({t for r in rows.values() for t in r} - set(rows))
        matrices.append(
            {
                "group": dict(key),
                "metric": metric,
                "rows": list(rows),
                "columns": columns,
                "cells": {
                    source: {
                        target: summarize(values).to_dict() for target, values in targets.items()
                    }
                    for source, targets in rows.items()
                },
            }
        )
    return matrices


def paired_differences(
    records: Sequence[dict[str, Any]], axis: str, pair: Sequence[Any], metric: str
) -> list[dict[str, Any]]:
    """Treatment minus baseline (`pair`: two values of `axis`), seed by seed, per group of the
    other axes: pairing by seed removes what the two share (data subset, head init), so a small
    but steady gain shows even where the spread of each alone hides it."""
    treatment, baseline = pair
    scores: dict[tuple, dict[str, dict[Any, float]]] = {}
    for record in records:
        value = record["labels"].get(axis)
        score = record["metrics"]["test"].get(metric)
        if value not in (treatment, baseline) or score is None:
            continue
        key = group_key(record["labels"], [SEED_AXIS, axis])
        side = "treatment" if value == treatment else "baseline"
        seed = record["labels"].get(SEED_AXIS)
        scores.setdefault(key, {"treatment": {}, "baseline": {}})[side][seed] = score
    rows = []
    for key, sides in scores.items():
        seeds = sorted(set(sides["treatment"]) & set(sides["baseline"]))
        if not seeds:
            continue
        differences = [sides["treatment"][s] - sides["baseline"][s] for s in seeds]
        rows.append(
            {
                "labels": dict(key),
                "treatment": treatment,
                "baseline": baseline,
                "metric": metric,
                "seeds": seeds,
                "difference": summarize(differences).to_dict(),
                "treatment_better": sum(d > 0 for d in differences),
            }
        )
    return rows
