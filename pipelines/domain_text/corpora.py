"""Domain text corpora: the texts of a clinical dataset's own splits, labels dropped.

The masked-LM adapter trains on the training split's texts only and is scored on the test
split's, both from the clinical loader with the run's seed. So the same seed's downstream task
on that dataset never saw its test documents in the domain step, and the other downstream
datasets (Symptom2Disease, Medical Abstracts) are different corpora altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.clinical_text.datasets import load_clinical_dataset
from shared.datasets import register_dataset

PIPELINE = "domain_text"


@dataclass
class MTSamplesTextOptions:
    top_k: int = 20  # specialties kept: 20 keeps 1,299 training notes (seed 0), all that split


@dataclass(frozen=True)
class TextSplits:
    train: list[str]
    val: list[str]
    test: list[str]


def load_mtsamples_text(data_dir: str | Path | None, seed: int, top_k: int) -> TextSplits:
    splits = load_clinical_dataset("mtsamples", data_dir, seed=seed, top_k=top_k)
    return TextSplits(splits.train.texts, splits.val.texts, splits.test.texts)


register_dataset(
    "mtsamples_text",
    load_mtsamples_text,
    pipeline=PIPELINE,
    options=MTSamplesTextOptions,
    source="MTSamples transcriptions (see data_cards/mtsamples.md)",
)
