"""Domain text corpora, each drawn only from texts a downstream task may train on.

- `mtsamples_text`: MTSamples notes, labels dropped. The masked-LM adapter trains on the
  training split's texts only and is scored on the test split's, both from the clinical loader
  with the run's seed. So the same seed's downstream task on that dataset never saw its test
  documents in the domain step, and the other downstream datasets (Symptom2Disease, Medical
  Abstracts) are different corpora altogether.
- `mafand_target_text`: the target-language side of MAFAND's training pairs (Hausa for
  eng->hau), for a causal-LM language adapter on a decoder. The pairs are read as the
  translation pipeline reads them, with every pair whose source or target occurs in MAFAND's
  test set, FLORES-200 or TICO-19 (uncapped) removed; the sentences are then split 80/10/10 with
  the seed. Training targets that also occur among MAFAND's validation targets (one for
  eng->hau) are dropped too, so no downstream validation or test sentence is domain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.clinical_text.datasets import load_clinical_dataset
from pipelines.translation.corpora import load_translation_data
from pipelines.translation.overlap import normalise
from shared.datasets import register_dataset

PIPELINE = "domain_text"


@dataclass
class MTSamplesTextOptions:
    top_k: int = 20  # specialties kept: 20 keeps 1,299 training notes (seed 0), all that split


@dataclass
class TargetLanguageTextOptions:
    source: str = "eng"  # the pair whose training targets are read (ISO 639-3)
    target: str = "hau"  # the language of the domain text


# Every test set a translation run on MAFAND may score: none of their sentences is domain text.
TRANSLATION_TESTS = ("flores200", "tico19")
DOMAIN_SPLIT = (0.8, 0.1)  # train and validation shares; the rest is the domain test


@dataclass(frozen=True)
class TextSplits:
    train: list[str]
    val: list[str]
    test: list[str]


def load_mtsamples_text(data_dir: str | Path | None, seed: int, top_k: int) -> TextSplits:
    splits = load_clinical_dataset("mtsamples", data_dir, seed=seed, top_k=top_k)
    return TextSplits(splits.train.texts, splits.val.texts, splits.test.texts)


def load_mafand_target_text(
    data_dir: str | Path | None, seed: int, source: str, target: str
) -> TextSplits:
    pairs = load_translation_data(
        "mafand", data_dir, seed=seed, extra_tests=TRANSLATION_TESTS, source=source, target=target
    )
    validation = {normalise(text) for text in pairs.val.targets}  # MAFAND repeats a few
    kept = {text.strip() for text in pairs.train.targets if normalise(text) not in validation}
    texts = sorted(kept - {""})
    order = np.random.default_rng(seed).permutation(len(texts))
    train_end = round(DOMAIN_SPLIT[0] * len(texts))
    val_end = train_end + round(DOMAIN_SPLIT[1] * len(texts))
    parts = [order[:train_end], order[train_end:val_end], order[val_end:]]
    return TextSplits(*([texts[i] for i in sorted(part)] for part in parts))


register_dataset(
    "mafand_target_text",
    load_mafand_target_text,
    pipeline=PIPELINE,
    options=TargetLanguageTextOptions,
    source="MAFAND-MT training targets (see data_cards/mafand.md)",
)
register_dataset(
    "mtsamples_text",
    load_mtsamples_text,
    pipeline=PIPELINE,
    options=MTSamplesTextOptions,
    source="MTSamples transcriptions (see data_cards/mtsamples.md)",
)
