"""Vision and medical imaging: an ImageNet-pretrained CNN or a ViT over (medical) images.

Scored by accuracy and AUROC (binary for two-class sets, macro one-vs-rest otherwise), with a
confusion matrix and a per-class table written by the runner for every run, and pixels + logistic
regression as the cheap baseline beside it (`baseline.py`). Convolutional backbones run
channels-last (`data.channels_last`); a frozen prefix's features are cached
(`data.feature_cache`); `model.compile` runs the forward through `torch.compile`.
"""

from __future__ import annotations

import functools

from omegaconf import DictConfig, OmegaConf

from pipelines.prepared import (
    PreparedPipeline,
    baseline_on_splits,
    data_summary,
    subsample_training_split,
)
from pipelines.vision.backbones import build_image_classifier, check_input_size
from pipelines.vision.baseline import pixel_logistic_regression_baseline
from pipelines.vision.datamodule import ImageClassificationDataModule
from pipelines.vision.datasets import load_image_dataset
from shared.fast_classifier import build_fast_classifier
from shared.memory_format import has_2d_convolutions, to_channels_last


def prepare_vision(config: DictConfig) -> PreparedPipeline:
    """Load, check and subsample the images, then build the backbone: all before training."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    full = load_image_dataset(data.name, data.data_dir, seed=config.seed, **options)
    splits = subsample_training_split(full, data, config.seed)
    backbone = build_image_classifier(config.model.name, num_classes=len(splits.label_names))
    check_input_size(backbone, data.image_size)
    channels_last = data.channels_last and has_2d_convolutions(backbone.model)
    if channels_last:
        to_channels_last(backbone.model)
    datamodule = ImageClassificationDataModule(
        splits,
        image_size=data.image_size,
        mean=backbone.mean,
        std=backbone.std,
        augment=data.augment,
        batch_size=data.batch_size,
        eval_batch_size=data.eval_batch_size,
        num_workers=data.num_workers,
        seed=config.seed,
        channels_last=channels_last,
    )

    make_module = functools.partial(
        build_fast_classifier,
        datamodule=datamodule,
        backbone=config.model.name,
        label_names=splits.label_names,
        multilabel=False,
        feature_cache=data.feature_cache,
        compile_model=config.model.compile,
    )
    baseline = baseline_on_splits(pixel_logistic_regression_baseline, splits, config.seed)

    return PreparedPipeline(
        model=backbone.model,
        head_modules=list(backbone.head_modules),
        datamodule=datamodule,
        label_names=splits.label_names,
        multilabel=False,
        train_size=len(splits.train.labels),
        baselines={"pixel_logistic_regression": baseline},
        data_summary=data_summary(data, full, splits, image_size=data.image_size),
        make_module=make_module,
    )
