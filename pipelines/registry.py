"""The single list of domain pipelines, by the name used in `pipeline.name`."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from omegaconf import DictConfig

from pipelines.prepared import PreparedPipeline

# name -> "module:function" building a PreparedPipeline; imported lazily so one domain's
# dependencies never slow down or break another's.
PIPELINES = {
    "clinical_text": "pipelines.clinical_text.pipeline:prepare_clinical_text",
    "vision": "pipelines.vision.pipeline:prepare_vision",
    "speech": "pipelines.speech.pipeline:prepare_speech",
    "translation": "pipelines.translation.pipeline:prepare_translation",
}


def get_pipeline(name: str) -> Callable[[DictConfig], PreparedPipeline]:
    if name not in PIPELINES:
        raise ValueError(
            f"pipeline.name: unknown pipeline {name!r}; choose one of {sorted(PIPELINES)}"
        )
    module_name, function_name = PIPELINES[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)
