"""Vision and medical imaging: an ImageNet-pretrained CNN or a ViT over (medical) images.

Scored by accuracy and AUROC (binary for two-class sets, macro one-vs-rest otherwise), with a
confusion matrix and a per-class table written by the runner for every run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pipelines.prepared import PreparedPipeline
from pipelines.vision.backbones import build_image_classifier, check_input_size
from pipelines.vision.datamodule import ImageClassificationDataModule
from pipelines.vision.datasets import ImageClassificationSplits, load_image_dataset
from shared.low_data import subsample_indices


def subsample_train(
    splits: ImageClassificationSplits, *, fraction: float | None, k_shot: int | None, seed: int
) -> ImageClassificationSplits:
    """The same splits with the training split cut down for a low-data experiment."""
    indices = subsample_indices(
        splits.train.labels,
        fraction=fraction,
        k_shot=k_shot,
        seed=seed,
        label_names=splits.label_names,
    )
    return dataclasses.replace(splits, train=splits.train.subset(indices))


def prepare_vision(config: DictConfig) -> PreparedPipeline:
    """Load, check and subsample the images, then build the backbone: all before training."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    full = load_image_dataset(data.name, data.data_dir, seed=config.seed, **options)
    splits = subsample_train(full, fraction=data.fraction, k_shot=data.k_shot, seed=config.seed)
    backbone = build_image_classifier(config.model.name, num_classes=len(splits.label_names))
    check_input_size(backbone, data.image_size)
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
    )
    classes = len(splits.label_names)
    return PreparedPipeline(
        model=backbone.model,
        head_modules=list(backbone.head_modules),
        datamodule=datamodule,
        label_names=splits.label_names,
        multilabel=False,
        train_size=len(splits.train.labels),
        data_summary={
            "dataset": data.name,
            "label_names": list(splits.label_names),
            "multilabel": False,
            "image_size": data.image_size,
            "train_size_full": len(full.train.labels),
            "train_size": len(splits.train.labels),
            "val_size": len(splits.val.labels),
            "test_size": len(splits.test.labels),
            "fraction": data.fraction,
            "k_shot": data.k_shot,
            "train_label_counts": np.bincount(splits.train.labels, minlength=classes).tolist(),
        },
    )
