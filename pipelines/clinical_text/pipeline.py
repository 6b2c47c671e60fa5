"""Clinical text classification: a pretrained encoder over clinical notes, scored by AUROC."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pipelines.clinical_text.backbone import build_text_classifier
from pipelines.clinical_text.baseline import tfidf_logistic_regression_baseline
from pipelines.clinical_text.datamodule import TextClassificationDataModule
from pipelines.clinical_text.datasets import (
    TextClassificationSplits,
    TextExamples,
    load_clinical_dataset,
)
from pipelines.prepared import PreparedPipeline
from shared.low_data import subsample_indices


def subsample_train(
    splits: TextClassificationSplits, *, fraction: float | None, k_shot: int | None, seed: int
) -> TextClassificationSplits:
    """The same splits with the training split cut down for a low-data experiment."""
    indices = subsample_indices(
        splits.train.labels,
        fraction=fraction,
        k_shot=k_shot,
        seed=seed,
        label_names=splits.label_names,
    )
    train = TextExamples(
        texts=[splits.train.texts[i] for i in indices], labels=splits.train.labels[indices]
    )
    return TextClassificationSplits(
        train=train,
        val=splits.val,
        test=splits.test,
        label_names=splits.label_names,
        multilabel=splits.multilabel,
    )


def prepare_clinical_text(config: DictConfig) -> PreparedPipeline:
    """Load and subsample the data, then build the encoder: every check before training."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    full = load_clinical_dataset(data.name, data.data_dir, seed=config.seed, **options)
    splits = subsample_train(full, fraction=data.fraction, k_shot=data.k_shot, seed=config.seed)
    model, tokenizer = build_text_classifier(
        config.model.name, num_labels=len(splits.label_names), multilabel=splits.multilabel
    )
    datamodule = TextClassificationDataModule(
        splits,
        tokenizer,
        max_length=config.model.max_length,
        batch_size=data.batch_size,
        eval_batch_size=data.eval_batch_size,
        num_workers=data.num_workers,
    )

    def baseline() -> dict:
        return tfidf_logistic_regression_baseline(
            splits.train,
            splits.test,
            multilabel=splits.multilabel,
            label_names=splits.label_names,
            seed=config.seed,
        )

    positives = splits.train.labels.sum(axis=0) if splits.multilabel else None
    return PreparedPipeline(
        model=model,
        head_modules=["classifier"],
        datamodule=datamodule,
        label_names=splits.label_names,
        multilabel=splits.multilabel,
        train_size=len(splits.train.texts),
        baselines={"tfidf_logistic_regression": baseline},
        data_summary={
            "dataset": data.name,
            "label_names": list(splits.label_names),
            "multilabel": splits.multilabel,
            "train_size_full": len(full.train.texts),
            "train_size": len(splits.train.texts),
            "val_size": len(splits.val.texts),
            "test_size": len(splits.test.texts),
            "fraction": data.fraction,
            "k_shot": data.k_shot,
            "train_label_counts": (
                positives.tolist()
                if positives is not None
                else np.bincount(splits.train.labels, minlength=len(splits.label_names)).tolist()
            ),
        },
    )
