"""Speech classification: a pretrained Whisper encoder over spoken words, scored by accuracy.

AUROC and macro F1 come along from the shared metrics, and the runner writes a confusion matrix
and a per-class table for every run; MFCC statistics + logistic regression is the cheap baseline
beside it (`baseline.py`). Every digit dataset shares the labels "0".."9", so a model
trained on one (synthetic espeak-ng speech, say) is also scored on others' test clips
(`data.cross_domain`, e.g. real FSDD voices).
"""

from __future__ import annotations

import functools

from omegaconf import DictConfig, OmegaConf

from pipelines.prepared import (
    PreparedPipeline,
    baseline_on_splits,
    cross_domain_tests,
    data_summary,
    subsample_training_split,
)
from pipelines.speech.backbone import build_audio_classifier
from pipelines.speech.baseline import mfcc_logistic_regression_baseline
from pipelines.speech.datamodule import AudioClassificationDataModule
from pipelines.speech.datasets import load_audio_dataset


def prepare_speech(config: DictConfig) -> PreparedPipeline:
    """Load, check and subsample the clips, then build the encoder: all before training."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    full = load_audio_dataset(data.name, data.data_dir, seed=config.seed, **options)
    splits = subsample_training_split(full, data, config.seed)
    load_test_only = functools.partial(
        load_audio_dataset, data_dir=data.data_dir, seed=config.seed, for_training=False
    )
    cross_domain = cross_domain_tests(data, splits.label_names, load_test_only)
    backbone = build_audio_classifier(
        config.model.name, num_labels=len(splits.label_names), window_seconds=data.window_seconds
    )
    datamodule = AudioClassificationDataModule(
        splits,
        backbone.feature_extractor,
        window_seconds=data.window_seconds,
        batch_size=data.batch_size,
        eval_batch_size=data.eval_batch_size,
        num_workers=data.num_workers,
        cross_domain=cross_domain,
    )
    baseline = baseline_on_splits(mfcc_logistic_regression_baseline, splits, config.seed)
    return PreparedPipeline(
        model=backbone.model,
        head_modules=list(backbone.head_modules),
        datamodule=datamodule,
        label_names=splits.label_names,
        multilabel=False,
        train_size=len(splits.train.labels),
        baselines={"mfcc_logistic_regression": baseline},
        data_summary=data_summary(
            data,
            full,
            splits,
            window_seconds=data.window_seconds,
            test_speakers=sorted(set(splits.test.speakers)),
            cross_domain_sizes={name: len(test) for name, test in cross_domain.items()},
        ),
    )
