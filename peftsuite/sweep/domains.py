"""Which datasets a cross-domain sweep can train on: test-only ones are matrix columns only."""

from __future__ import annotations

from pipelines.registry import registered_pipelines
from shared.datasets import find_dataset


def is_test_only(name: str) -> bool:
    for pipeline in registered_pipelines().values():
        pipeline.register_datasets()
    spec = find_dataset(name)
    if spec is None:
        raise ValueError(f"domains: {name!r} is not a registered dataset")
    return spec.test_only
