"""Clinical text classification: a pretrained encoder over clinical notes, scored by AUROC."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from pipelines.clinical_text.backbone import build_text_classifier
from pipelines.clinical_text.baseline import tfidf_logistic_regression_baseline
from pipelines.clinical_text.datamodule import TextClassificationDataModule
from pipelines.clinical_text.datasets import load_clinical_dataset
from pipelines.prepared import PreparedPipeline, data_summary, subsample_training_split


def prepare_clinical_text(config: DictConfig) -> PreparedPipeline:
    """Load and subsample the data, then build the encoder: every check before training."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    full = load_clinical_dataset(data.name, data.data_dir, seed=config.seed, **options)
    splits = subsample_training_split(full, data, config.seed)
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

    return PreparedPipeline(
        model=model,
        head_modules=["classifier"],
        datamodule=datamodule,
        label_names=splits.label_names,
        multilabel=splits.multilabel,
        train_size=len(splits.train),
        baselines={"tfidf_logistic_regression": baseline},
        data_summary=data_summary(data, full, splits),
    )
