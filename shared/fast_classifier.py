"""The classifier module with the speed-ups that keep its results: cached frozen-prefix features
and an optional `torch.compile`.

`build_fast_classifier` is what a pipeline's `make_module` calls after injection. It looks for a
frozen prefix (`shared.frozen_prefix`); when there is one, it asks the data module to tag each
example of a deterministic split (no augmentation) with a key (`serve_example_keys()`), and the
module then runs the prefix only for examples whose features are not yet in the store
(`shared.feature_cache`): in the first epoch, or in the first run of a grid. Batches of an
augmented training split carry no keys and take the whole model, as before.

Before the first cached batch the chain is checked against the model's own forward on that
batch; on a mismatch the cache is turned off for the run (with a warning) and every batch takes
the whole model.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.cache import cache_root
from shared.feature_cache import (
    EXAMPLE_KEYS,
    PREFIX_FEATURES,
    FeatureStore,
    RefusedCacheWarning,
    store_identity,
)
from shared.frozen_prefix import FrozenPrefix, base_model_of, check_chain, find_frozen_prefix
from shared.inject import InjectionReport
from shared.lightning_module import PeftClassifier, logits_of

logger = logging.getLogger(__name__)


def select_examples(inputs: Any, positions: list[int]) -> Any:
    """The rows `positions` of a batch of model inputs (a tensor or a dict of tensors)."""
    if isinstance(inputs, dict):
        return {key: value[positions] for key, value in inputs.items()}
    return inputs[positions]


class FastClassifier(PeftClassifier):
    """`PeftClassifier` whose keyed batches reuse stored prefix features (see the module doc).

    Args:
        prefix, store: the frozen prefix and its feature store; None trains as `PeftClassifier`.
        compile_model: run the whole-model forward through `torch.compile` (`compile_backend`).
    """

    def __init__(
        self,
        model: nn.Module,
        report: InjectionReport,
        *,
        label_names: Sequence[str],
        multilabel: bool,
        learning_rate: float,
        weight_decay: float = 0.0,
        prefix: FrozenPrefix | None = None,
        store: FeatureStore | None = None,
        compile_model: bool = False,
        compile_backend: str = "inductor",
    ) -> None:
        super().__init__(
            model,
            report,
            label_names=label_names,
            multilabel=multilabel,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
        )
        self.prefix = prefix
        self.store = store
        self.chain_checked = False
        # Kept out of the module tree, so checkpoints and adapters keep the model's own names.
        compiled = torch.compile(model, backend=compile_backend) if compile_model else None
        self.__dict__["compiled_model"] = compiled

    def forward(self, inputs: Any) -> torch.Tensor:
        if isinstance(inputs, dict) and PREFIX_FEATURES in inputs:
            return self.prefix.run_top(inputs[PREFIX_FEATURES])
        model = self.model if self.compiled_model is None else self.compiled_model
        output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
        return logits_of(output)

    def loss_and_probabilities(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        keys = batch.get(EXAMPLE_KEYS)
        if keys is not None and self.prefix is not None:
            features = self.prefix_features(batch["inputs"], keys)
            if features is not None:
                batch = {"inputs": {PREFIX_FEATURES: features}, "labels": batch["labels"]}
        return super().loss_and_probabilities(batch)

    def prefix_features(self, inputs: Any, keys: torch.Tensor) -> torch.Tensor | None:
        """The prefix's features for a keyed batch: stored rows, the rest computed and stored."""
        if not self.chain_checked:
            self.chain_checked = True
            reason = check_chain(self.model, self.prefix, inputs)
            if reason is not None:
                warnings.warn(
                    f"feature cache off for this run: {reason}", RefusedCacheWarning, stacklevel=2
                )
                self.prefix = None
                return None
        names = [bytes(row) for row in keys.cpu().numpy()]
        rows = self.store.lookup(names)
        check = self.store.needs_verification(names)
        if check:
            recomputed = self.prefix.run_prefix(select_examples(inputs, check))
            if not self.store.verify([names[i] for i in check], recomputed):
                rows = [None] * len(names)
        missing = [index for index, row in enumerate(rows) if row is None]
        if missing:
            computed = self.prefix.run_prefix(select_examples(inputs, missing))
            self.store.add([names[i] for i in missing], computed)
            for index, row in zip(missing, computed, strict=True):
                rows[index] = row
        device = keys.device
        return torch.stack([row.to(device) for row in rows])

    def flush_features(self) -> None:
        if self.store is not None:
            self.store.flush()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.flush_features()

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self.flush_features()

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.flush_features()


def build_fast_classifier(
    model: nn.Module,
    report: InjectionReport,
    *,
    datamodule: Any,
    backbone: str,
    label_names: Sequence[str],
    multilabel: bool,
    learning_rate: float,
    weight_decay: float,
    feature_cache: bool,
    compile_model: bool,
    cache_folder: str | Path | None = None,
) -> FastClassifier:
    """The module for an injected `model`, with the feature cache wherever it applies.

    Args:
        datamodule: serves the data; must have `serve_example_keys()` for the cache to apply.
        backbone: the `model.name` the backbone was built from (part of the store's identity).
        feature_cache: look for a frozen prefix and cache its features.
        compile_model: `torch.compile` the whole-model forward.
        cache_folder: the root of the on-disk store; None takes `shared.cache.cache_root()`.
    """
    prefix, store = None, None
    if feature_cache and callable(getattr(datamodule, "serve_example_keys", None)):
        found = find_frozen_prefix(
            model,
            train_batchnorm_statistics=report.method_config.get("train_batchnorm_statistics", True),
        )
        if isinstance(found, str):
            logger.info("frozen-prefix feature cache not used: %s", found)
        else:
            prefix = found
            identity = store_identity(
                backbone,
                type(base_model_of(model)).__name__,
                found.cut_name,
                found.weights_digest(),
            )
            store = FeatureStore(
                identity, cache_folder if cache_folder is not None else cache_root()
            )
            datamodule.serve_example_keys()
            logger.info("frozen-prefix feature cache at %s (cut %s)", store.folder, found.cut_name)
    return FastClassifier(
        model,
        report,
        label_names=label_names,
        multilabel=multilabel,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        prefix=prefix,
        store=store,
        compile_model=compile_model,
    )
