"""Clinical text classification: a pretrained encoder over clinical notes, scored by AUROC.

Datasets that share a label set (the organ-system views of Symptom2Disease, MTSamples and
Medical Abstracts, `organ_systems.py`) score each other's test texts too (`data.cross_domain`).
"""

from __future__ import annotations

import functools

from omegaconf import DictConfig, OmegaConf

from pipelines.clinical_text.backbone import build_text_classifier
from pipelines.clinical_text.baseline import tfidf_logistic_regression_baseline
from pipelines.clinical_text.datamodule import TextClassificationDataModule
from pipelines.clinical_text.datasets import load_clinical_dataset
from pipelines.prepared import (
    PreparedPipeline,
    baseline_on_splits,
    cross_domain_tests,
    data_summary,
    subsample_training_split,
)
from shared.fast_classifier import build_fast_classifier


def prepare_clinical_text(config: DictConfig) -> PreparedPipeline:
    """Load and subsample the data, then build the encoder: every check before training."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    full = load_clinical_dataset(data.name, data.data_dir, seed=config.seed, **options)
    splits = subsample_training_split(full, data, config.seed)
    load = functools.partial(load_clinical_dataset, data_dir=data.data_dir, seed=config.seed)
    cross_domain = cross_domain_tests(data, splits.label_names, load)
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
        bucket_by_length=data.bucket_by_length,
        seed=config.seed,
        cross_domain=cross_domain,
    )
    datamodule.setup("fit")  # tokenise now, so the padding share goes into the run's summary

    make_module = functools.partial(
        build_fast_classifier,
        datamodule=datamodule,
        backbone=config.model.name,
        label_names=splits.label_names,
        multilabel=splits.multilabel,
        feature_cache=data.feature_cache,
        compile_model=config.model.compile,
    )

    baseline = baseline_on_splits(
        tfidf_logistic_regression_baseline, splits, config.seed, multilabel=splits.multilabel
    )
    return PreparedPipeline(
        model=model,
        head_modules=["classifier"],
        datamodule=datamodule,
        label_names=splits.label_names,
        multilabel=splits.multilabel,
        train_size=len(splits.train),
        baselines={"tfidf_logistic_regression": baseline},
        data_summary=data_summary(
            data,
            full,
            splits,
            train_padding_share=datamodule.padding_share("train"),
            cross_domain_sizes={name: len(test) for name, test in cross_domain.items()},
        ),
        make_module=make_module,
    )
